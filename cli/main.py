"""``coursework``: the one command-line entry point.

Subcommands: demo, intake, worker, beat, flower, relay, migrate, keys, jobs, plus each
family's own (``cli/families/<family>.py``). Settings come from COURSEWORK_* env vars.
"""
from __future__ import annotations

import argparse
import importlib
import json
import os
import sys

from domain import registry
from domain.jobs.kinds import FAMILIES

ALL_QUEUES = ",".join(registry.ALL_QUEUES)
POOLS = ["prefork", "threads", "solo"]      # those installed and tested here (gevent/eventlet are not)


def _settings():
    from celeryconfig import settings

    return settings


def _refuse_unsafe(process: str) -> None:
    """Production mode: one line per default or weak secret, then exit 2, before anything starts."""
    from domain.core import production

    production.refuse_to_start(_settings(), process)


def cmd_migrate(args) -> int:
    from cli.services import migrate

    migrate(args.url or _settings().database_url, args.revision)
    print(f"database at {args.url or _settings().database_url} migrated to {args.revision}")
    return 0


def cmd_intake(args) -> int:
    import uvicorn

    _refuse_unsafe("intake")

    from workers import logs

    settings = _settings()
    logs.configure(settings.log_level, settings.log_json)
    # header / body / keep-alive deadlines: intake.server; bounded header size: h11's default
    uvicorn.run("intake.app:app", host=args.host, port=args.port, workers=args.workers,
                log_level=settings.log_level.lower(), access_log=args.access_log, http="intake.server:Protocol",
                timeout_keep_alive=settings.http_keep_alive_timeout, h11_max_incomplete_event_size=16 * 1024)
    return 0


def cmd_worker(args) -> int:
    _refuse_unsafe("worker")
    port = args.metrics_port if args.metrics_port is not None else _settings().worker_metrics_port
    folder = None
    if port:    # before anything imports prometheus_client (workers.metrics: multiprocess mode)
        from workers import metrics_dir

        folder = metrics_dir.prepare()
    from workers.app import app

    if port:
        from workers import metrics

        metrics.serve(port)

    argv = ["worker", "-Q", args.queues, "-c", str(args.concurrency), "-P", args.pool,
            "-l", _settings().log_level, "-E"]
    if args.hostname:
        argv += ["-n", args.hostname]
    if args.max_tasks_per_child:
        argv += ["--max-tasks-per-child", str(args.max_tasks_per_child)]
    if args.fast_start:
        argv += ["--without-mingle", "--without-gossip"]
    try:
        app.worker_main(argv)
    finally:
        if folder:
            metrics_dir.cleanup(folder)
    return 0


def cmd_beat(args) -> int:
    _refuse_unsafe("beat")
    from workers.app import app

    app.start(["beat", "-l", _settings().log_level, *(["-S", args.scheduler] if args.scheduler else [])])
    return 0


def cmd_flower(args) -> int:
    _refuse_unsafe("flower")
    from workers.app import app
    from workers.outcomes import register_progress_state

    register_progress_state()
    settings = _settings()
    app.start(["flower", f"--port={args.port or settings.flower_port}", f"--address={args.address}",
               f"--basic-auth={settings.flower_basic_auth}", "--purge_offline_workers=60"])
    return 0


def cmd_relay(args) -> int:
    _refuse_unsafe("relay")
    from workers import events, logs, relay

    logs.configure(_settings().log_level, _settings().log_json)
    events.install()
    if args.once:
        print(json.dumps(relay.relay_once()))
        return 0
    relay.run_forever(args.interval)
    return 0


def cmd_keys(args) -> int:
    from sqlalchemy import select

    from domain.db import unit_of_work
    from domain.jobs import keys
    from domain.jobs.models import ApiKey

    with unit_of_work(_settings().database_url) as s:
        if args.action == "create":
            key, raw = keys.create(s, args.name, args.scopes.split(","))
            print(json.dumps({"id": key.id, "name": key.name, "scopes": key.scopes, "key": raw}))
            print("store this key now: it is shown only once", file=sys.stderr)
        elif args.action == "list":
            for key in s.scalars(select(ApiKey).order_by(ApiKey.created_at)):
                print(f"{key.id}  {key.prefix}…  {','.join(key.scopes):24}  {key.name}"
                      f"{'  (revoked)' if key.revoked_at else ''}")
        elif args.action == "revoke":
            if not keys.revoke(s, args.id):
                print(f"no active key {args.id}", file=sys.stderr)
                return 1
            print(f"revoked {args.id}")
    return 0


def cmd_demo(args) -> int:
    from cli.demo import run_demo

    return run_demo(keep=args.keep, only=args.only)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="coursework", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)

    d = sub.add_parser("demo", help="set up the embedded defaults and run jobs of every family end to end")
    d.add_argument("--keep", action="store_true", help="leave the demo's state folder in place")
    d.add_argument("--only", default=None, help="comma-separated families to demo (default: all)")
    d.set_defaults(fn=cmd_demo)

    i = sub.add_parser("intake", help="serve the intake HTTP API")
    i.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    i.add_argument("--port", type=int, default=8000, help="port to listen on (default 8000)")
    i.add_argument("--workers", type=int, default=1, help="uvicorn worker processes (default 1)")
    i.add_argument("--access-log", action="store_true", help="log every request")
    i.set_defaults(fn=cmd_intake)

    w = sub.add_parser("worker", help="run a Celery worker")
    w.add_argument("--queues", "-Q", default=ALL_QUEUES, help=f"comma-separated queues to consume (default: all: {ALL_QUEUES})")
    w.add_argument("--concurrency", "-c", type=int, default=_settings().worker_concurrency,
                   help="processes (prefork) or threads running jobs at once (default COURSEWORK_WORKER_CONCURRENCY)")
    w.add_argument("--pool", "-P", default="prefork", choices=POOLS,
                   help="prefork (default; CPU-heavy queues), threads (I/O queues) or solo (one job at a time)")
    w.add_argument("--hostname", "-n", default=None, help="worker name, e.g. video1@%%h (default celery@host)")
    w.add_argument("--max-tasks-per-child", type=int, default=None, help="replace a prefork process after this many jobs")
    w.add_argument("--metrics-port", type=int, default=None,
                   help="serve Prometheus metrics of this worker's jobs on this port (default "
                        "COURSEWORK_WORKER_METRICS_PORT; 0 = off)")
    w.add_argument("--fast-start", action="store_true",
                   help="skip mingle/gossip with other workers (quicker start; used by the tests)")
    w.set_defaults(fn=cmd_worker)

    b = sub.add_parser("beat", help="run the beat scheduler (one fires each entry, even if two run)")
    b.add_argument("--scheduler", "-S", default=None, help="beat scheduler class (default COURSEWORK_BEAT_SCHEDULER: RedBeat)")
    b.set_defaults(fn=cmd_beat)

    f = sub.add_parser("flower", help="run Flower (basic auth from COURSEWORK_FLOWER_BASIC_AUTH)")
    f.add_argument("--port", type=int, default=None, help="port (default COURSEWORK_FLOWER_PORT, 5555)")
    f.add_argument("--address", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    f.set_defaults(fn=cmd_flower)

    r = sub.add_parser("relay", help="run the outbox relay and stuck-job reaper loop")
    r.add_argument("--interval", type=float, default=None, help="seconds between passes (default COURSEWORK_RELAY_INTERVAL)")
    r.add_argument("--once", action="store_true", help="one pass, print what it did, exit")
    r.set_defaults(fn=cmd_relay)

    m = sub.add_parser("migrate", help="apply Alembic migrations")
    m.add_argument("--url", default=None, help="database URL (default COURSEWORK_DATABASE_URL)")
    m.add_argument("--revision", default="head", help="Alembic revision to migrate to (default head)")
    m.set_defaults(fn=cmd_migrate)

    k = sub.add_parser("keys", help="create / list / revoke API keys")
    k.add_argument("action", choices=["create", "list", "revoke"], help="create a key (printed once), list keys, revoke one")
    k.add_argument("--name", default="web", help="who uses the key (create; default web)")
    k.add_argument("--scopes", default="enqueue,read", help="comma-separated scopes (create; default enqueue,read)")
    k.add_argument("--id", default=None, help="the key id to revoke")
    k.set_defaults(fn=cmd_keys)

    from cli import jobs

    jobs.register(sub)

    from cli import config_table

    config_table.register(sub)
    for family in FAMILIES:
        try:
            module = importlib.import_module(f"cli.families.{family}")
        except ModuleNotFoundError:
            continue
        if hasattr(module, "register"):
            module.register(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    sys.path.insert(0, os.getcwd())
    args = build_parser().parse_args(argv)
    from workers import events

    events.install()   # jobs a command enqueues are published right after its commit
    from cli.jobs import run

    return run(args.fn, args) or 0


if __name__ == "__main__":
    sys.exit(main())
