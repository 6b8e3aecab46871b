"""``coursework jobs ...`` and ``coursework queues ...``: what an operator does by hand.

They read and write the platform's database and broker directly (run them where the platform's
COURSEWORK_* settings are), except ``jobs watch``, which follows a job's event stream through
intake as any client would.
"""
from __future__ import annotations

import argparse
import csv
import json
import re
import sys
from datetime import datetime, timedelta, timezone

from cli import render

PAST = {"retry": "retried", "cancel": "cancelled"}


def _settings():
    from celeryconfig import settings

    return settings


def moment(text: str) -> datetime:
    """``2026-01-05T10:00Z``, ``2026-01-05`` or an age back from now: ``30m``, ``2h``, ``7d``."""
    m = re.fullmatch(r"(\d+)\s*([smhd])", text.strip())
    if m:
        unit = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}[m.group(2)]
        return datetime.now(timezone.utc) - timedelta(**{unit: int(m.group(1))})
    try:
        at = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is neither an ISO 8601 time nor an age like 30m, 2h, 7d") from None
    return at if at.tzinfo else at.replace(tzinfo=timezone.utc)


def _filter(args):
    from domain.jobs.ops import JobFilter

    return JobFilter(kind=args.kind, state=getattr(args, "state", None), queue=getattr(args, "queue", None),
                     error_code=getattr(args, "error_code", None), caller=args.caller,
                     since=getattr(args, "since", None), until=getattr(args, "until", None)).checked()


# --- jobs ---------------------------------------------------------------------------------

def cmd_list(args) -> int:
    from sqlalchemy import select

    from domain.db import session_factory
    from domain.jobs import states
    from domain.jobs.models import Job

    if args.action == "dead-letters":
        args.state = states.DEAD_LETTERED
    f = _filter(args)
    stmt = f.where(select(Job)).order_by(Job.created_at.desc(), Job.id.desc()).limit(args.limit)
    with session_factory(_settings().database_url)() as s:
        jobs = [j.to_dict() for j in s.scalars(stmt)]
    if args.json:
        render.as_json(jobs)
        return 0
    out = render.console()
    if not jobs:
        shown = ", ".join(f"{k}={v}" for k, v in f.as_dict().items()) or "none"
        out.print(f"no jobs match (filters: {shown})")
        return 0
    out.print(render.jobs_table(jobs, title=f"{len(jobs)} job(s), newest first"))
    return 0


def _one(job_id: str):
    from domain.db import session_factory
    from domain.jobs.models import Job

    with session_factory(_settings().database_url)() as s:
        return s.get(Job, job_id)


def cmd_show(args) -> int:
    job = _one(args.id)
    if job is None:
        return render.error(f"no job {args.id!r}")
    if args.json:
        render.as_json(job.to_dict())
    else:
        render.console().print(render.job_detail(job.to_dict()))
    return 0


def cmd_retry_or_cancel(args) -> int:
    from domain.db import unit_of_work
    from domain.jobs import transitions
    from domain.jobs.models import Job

    with unit_of_work(_settings().database_url) as s:
        job = s.get(Job, args.id, with_for_update=True)
        if job is None:
            return render.error(f"no job {args.id!r}")
        if args.action == "retry":     # failed/dead-lettered: requeued; queued/retrying (stuck): published again
            try:
                done = transitions.operator_retry(s, job)
            except transitions.NotRetryable as exc:
                render.error(str(exc))
                return 1
            message = f"{done} {job.id}"
        else:
            if not transitions.cancel(s, job):
                render.error(f"job is already {job.state}")
                return 1
            message = f"cancel requested for {job.id}"
        body = job.to_dict()
    if args.json:
        render.as_json(body)
    else:
        print(message)
    return 0


def cmd_bulk(args) -> int:
    from domain.jobs import ops

    action = args.action.removeprefix("bulk-")
    f = _filter(args)
    counted = ops.bulk(_settings().database_url, f, action, dry_run=True)
    if args.dry_run or counted["matched"] == 0:
        if args.json:
            render.as_json(counted)
        else:
            print(f"dry run: {counted['matched']} job(s) would be {PAST[action]}"
                  f" ({', '.join(f'{k}={v}' for k, v in f.as_dict().items()) or 'no filter'})")
        return 0
    if not args.yes:
        if not sys.stdin.isatty():
            return render.error(f"{counted['matched']} job(s) match; pass --yes to {action} them (or --dry-run)")
        answer = input(f"{action} {counted['matched']} job(s)? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            print("nothing changed")
            return 1
    done = ops.bulk(_settings().database_url, f, action, dry_run=False, limit=args.limit)
    if args.json:
        render.as_json(done)
    else:
        print(f"{action}: {done['changed']} job(s) changed of {done['matched']} matched")
    return 0


def cmd_export(args) -> int:
    from domain.jobs import ops

    if args.since is None:
        args.since = datetime.now(timezone.utc) - timedelta(days=1)
    rows = ops.export_rows(_settings().database_url, _filter(args), with_payload=args.payload)
    out = open(args.output, "w", newline="") if args.output else sys.stdout
    n = 0
    try:
        if args.format == "csv":
            writer = csv.DictWriter(out, fieldnames=ops.EXPORT_FIELDS, extrasaction="ignore")
            writer.writeheader()
            for n, row in enumerate(rows, 1):
                writer.writerow(row)
        else:
            for n, row in enumerate(rows, 1):
                out.write(json.dumps(row, default=str) + "\n")
    finally:
        if args.output:
            out.close()
    print(f"exported {n} job(s)", file=sys.stderr)
    return 0


def cmd_watch(args) -> int:
    from cli.watch import watch

    return watch(args)


# --- queues -------------------------------------------------------------------------------

def cmd_queues(args) -> int:
    from workers import queue_control

    if args.action in ("pause", "resume"):
        if not args.queue:
            return render.error(f"which queue? one of: {', '.join(queue_control.QUEUES)}")
        try:
            out = (queue_control.pause if args.action == "pause" else queue_control.resume)(args.queue)
        except queue_control.UnknownQueue as exc:
            return render.error(str(exc))
        if args.json:
            render.as_json(out)
        else:
            told = ", ".join(out["workers"]) or "no worker answered (workers starting later obey it too)"
            print(f"{args.queue} {'paused' if out['paused'] else 'resumed'}; told: {told}")
        return 0
    rows = queue_control.report()
    if args.json:
        render.as_json(rows)
    else:
        render.console().print(render.queues_table(rows))
    return 0


# --- parser ---------------------------------------------------------------------------------

def _filters(p: argparse.ArgumentParser, state: bool = True, times: bool = True) -> None:
    from domain.jobs import states

    p.add_argument("--kind", help="only this job kind (see GET /v1/kinds)")
    if state:
        p.add_argument("--state", help=f"only this state: {', '.join(states.ALL)}")
    p.add_argument("--caller", help="only jobs enqueued by this API key id ('system': started by events)")
    p.add_argument("--error-code", dest="error_code", help="only jobs whose last error has this code")
    if times:
        p.add_argument("--since", type=moment, help="accepted at or after: ISO 8601 time or an age (30m, 2h, 7d)")
        p.add_argument("--until", type=moment, help="accepted before: ISO 8601 time or an age (30m, 2h, 7d)")


def _json(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")


def register(sub) -> None:
    j = sub.add_parser("jobs", help="list, show, watch, retry, cancel, bulk-retry, bulk-cancel, export jobs")
    acts = j.add_subparsers(dest="action", required=True, metavar="ACTION")

    for name, text in (("list", "list jobs, newest first"), ("dead-letters", "list dead-lettered jobs")):
        p = acts.add_parser(name, help=text)
        _filters(p, state=name == "list")
        p.add_argument("--limit", type=int, default=50, help="show at most this many (default 50)")
        _json(p)
        p.set_defaults(fn=cmd_list)

    p = acts.add_parser("show", help="one job: state, progress, times, payload, result or error")
    p.add_argument("id", help="the job's id")
    _json(p)
    p.set_defaults(fn=cmd_show)

    for name, text in (("retry", "requeue a failed or dead-lettered job (attempts start again); publish a stuck queued "
                               "or retrying job again"),
                       ("cancel", "cancel a job (a running one stops at its next heartbeat)")):
        p = acts.add_parser(name, help=text)
        p.add_argument("id", help="the job's id")
        _json(p)
        p.set_defaults(fn=cmd_retry_or_cancel)

    for name, text in (("bulk-retry", "requeue every failed / dead-lettered job matching the filters"),
                       ("bulk-cancel", "cancel every queued / retrying / running job matching the filters")):
        p = acts.add_parser(name, help=text + "; counts first (--dry-run: only count)")
        _filters(p)
        p.add_argument("--dry-run", action="store_true", help="only count the jobs that would change")
        p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
        p.add_argument("--limit", type=int, default=10_000, help="change at most this many jobs (default 10000)")
        _json(p)
        p.set_defaults(fn=cmd_bulk)

    p = acts.add_parser("export", help="job history as JSON lines or CSV, streamed")
    _filters(p)
    p.add_argument("--format", choices=["jsonl", "csv"], default="jsonl", help="jsonl (default) or csv")
    p.add_argument("--output", "-o", help="write to this file (default: standard output)")
    p.add_argument("--payload", action="store_true", help="include each job's payload (jsonl only)")
    p.set_defaults(fn=cmd_export)

    p = acts.add_parser("watch", help="follow a job's events with a progress bar; exits with its outcome "
                                      "(0 succeeded, 1 failed or dead-lettered, 2 cancelled)")
    p.add_argument("id", help="the job's id")
    p.add_argument("--url", help="intake's base URL (default: COURSEWORK_PUBLIC_BASE_URL)")
    p.add_argument("--key", help="an API key with the read scope (default: COURSEWORK_API_KEY)")
    _json(p)
    p.set_defaults(fn=cmd_watch)

    q = sub.add_parser("queues", help="queue health; pause or resume a queue")
    q.add_argument("action", nargs="?", choices=["health", "pause", "resume"], default="health",
                   help="health (default): depth, running, oldest waiting, rates, dead letters; "
                        "pause / resume QUEUE")
    q.add_argument("queue", nargs="?", help="the queue to pause or resume")
    _json(q)
    q.set_defaults(fn=cmd_queues)


def run(fn, args) -> int:
    """Run a command, turning a bad filter into a clear error (exit 2)."""
    from domain.jobs.ops import FilterError

    try:
        return fn(args)
    except FilterError as exc:
        flag = "--" + exc.field.replace("_", "-")
        return render.error(f"{flag}: {exc.message}")
