"""Operator views and bulk actions over the jobs table: queue health, retry or cancel many jobs
by filter (a dry run counts first), and the job history as rows for an export.

Every query here is bounded by an index (state first: ``ix_jobs_state_lease``,
``ix_jobs_state_finished``, ``ix_jobs_state_queue_created``) so the health view does not scan
the whole history; bulk actions work in chunks of ``CHUNK`` rows, each its own short
transaction. A chunk waits for a row another transaction holds (a worker's heartbeat or progress
write, another operator's chunk) and then checks the filter again, so every job that still
matches is changed and none twice.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta, timezone
from typing import Callable, Iterator

from sqlalchemy import Select, case, func, or_, select
from sqlalchemy.orm import Session

from domain.db import unit_of_work, utcnow
from domain.jobs import states, transitions
from domain.jobs.kinds import catalog
from domain.jobs.models import Job

CHUNK = 500
RETRYABLE = (states.FAILED, states.DEAD_LETTERED)
CANCELLABLE = (states.QUEUED, states.RUNNING, states.RETRYING)
FAILED_ENDINGS = (states.FAILED, states.DEAD_LETTERED)


class FilterError(ValueError):
    """A filter an operator gave that cannot mean anything (unknown state, bad range...)."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message


def _aware(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


@dataclass(frozen=True)
class JobFilter:
    """Which jobs: every given field must match; ``since``/``until`` bound ``created_at``."""

    kind: str | None = None
    state: str | None = None
    queue: str | None = None
    error_code: str | None = None
    caller: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def checked(self) -> "JobFilter":
        if self.kind is not None and catalog().get(self.kind) is None:
            raise FilterError("kind", f"unknown kind {self.kind!r}; kinds: {', '.join(sorted(catalog().kinds))}")
        if self.state is not None and self.state not in states.ALL:
            raise FilterError("state", f"unknown state {self.state!r}; states: {', '.join(states.ALL)}")
        queues = {k.queue for k in catalog().kinds.values()}
        if self.queue is not None and self.queue not in queues:
            raise FilterError("queue", f"unknown queue {self.queue!r}; queues: {', '.join(sorted(queues))}")
        since, until = _aware(self.since), _aware(self.until)
        if since and until and since >= until:
            raise FilterError("since", "must be before until")
        return JobFilter(self.kind, self.state, self.queue, self.error_code, self.caller, since, until)

    def where(self, stmt: Select) -> Select:
        conds = []
        for column, value in ((Job.kind, self.kind), (Job.state, self.state), (Job.queue, self.queue),
                              (Job.caller, self.caller)):
            if value is not None:
                conds.append(column == value)
        if self.error_code is not None:
            conds.append(Job.error["code"].as_string() == self.error_code)
        if self.since is not None:
            conds.append(Job.created_at >= self.since)
        if self.until is not None:
            conds.append(Job.created_at < self.until)
        return stmt.where(*conds) if conds else stmt

    def as_dict(self) -> dict:
        return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in asdict(self).items() if v is not None}


# --- queue health ---------------------------------------------------------------------------

def queue_health(session: Session, queues: list[str], now: datetime | None = None) -> dict[str, dict]:
    """Per queue: jobs queued (due), retrying, running, dead letters, the age in seconds of the
    oldest job waiting to start, and endings per minute over the last 5 and 60 minutes."""
    now = now or utcnow()
    out = {q: {"queued": 0, "retrying": 0, "running": 0, "dead_letters": 0, "oldest_waiting_seconds": None,
               "succeeded_per_min_5m": 0.0, "failed_per_min_5m": 0.0,
               "succeeded_per_min_60m": 0.0, "failed_per_min_60m": 0.0} for q in queues}
    live = {states.QUEUED: "queued", states.RETRYING: "retrying", states.RUNNING: "running",
            states.DEAD_LETTERED: "dead_letters"}
    for queue, state, n in session.execute(select(Job.queue, Job.state, func.count())
                                           .where(Job.state.in_(list(live))).group_by(Job.queue, Job.state)):
        if queue in out:
            out[queue][live[state]] = n
    hour, five = now - timedelta(minutes=60), now - timedelta(minutes=5)
    recent = select(Job.queue, Job.state, func.count(), func.sum(case((Job.finished_at >= five, 1), else_=0))) \
        .where(Job.state.in_([states.SUCCEEDED, *FAILED_ENDINGS]), Job.finished_at >= hour) \
        .group_by(Job.queue, Job.state)
    for queue, state, in_hour, in_five in session.execute(recent):
        if queue not in out:
            continue
        key = "succeeded" if state == states.SUCCEEDED else "failed"
        out[queue][f"{key}_per_min_60m"] += round(in_hour / 60, 3)
        out[queue][f"{key}_per_min_5m"] += round((in_five or 0) / 5, 3)
    for queue in queues:
        oldest = session.execute(
            select(Job.created_at, Job.run_at)
            .where(Job.state == states.QUEUED, Job.queue == queue, or_(Job.run_at.is_(None), Job.run_at <= now))
            .order_by(Job.created_at).limit(1)).first()
        if oldest is not None:
            since = max(_aware(oldest.created_at), _aware(oldest.run_at) or _aware(oldest.created_at))
            out[queue]["oldest_waiting_seconds"] = round(max(0.0, (now - since).total_seconds()), 1)
    return out


# --- bulk retry / cancel ----------------------------------------------------------------------

def _bulk_stmt(f: JobFilter, action: str) -> Select:
    if action == "retry":
        if f.state is not None and f.state not in RETRYABLE:
            raise FilterError("state", f"only {' or '.join(RETRYABLE)} jobs can be retried")
        base = select(Job).where(Job.state.in_(RETRYABLE))
    elif action == "cancel":
        if f.state is not None and f.state not in CANCELLABLE:
            raise FilterError("state", f"only {', '.join(CANCELLABLE)} jobs can be cancelled")
        base = select(Job).where(Job.state.in_(CANCELLABLE), Job.cancel_requested.is_(False))
    else:
        raise ValueError(f"unknown bulk action {action!r}")
    return f.where(base)


def bulk(db_url: str, f: JobFilter, action: str, *, dry_run: bool = True, limit: int = 10_000) -> dict:
    """Retry (failed, dead-lettered → queued, attempts reset) or cancel (queued, retrying → cancelled;
    running → asked to stop) every job matching ``f``, at most ``limit``. A dry run only counts."""
    f = f.checked()
    stmt = _bulk_stmt(f, action)
    with unit_of_work(db_url) as s:
        matched = s.scalar(select(func.count()).select_from(stmt.subquery()))
    result = {"action": action, "filter": f.as_dict(), "dry_run": dry_run, "matched": matched, "changed": 0}
    if dry_run:
        return result
    apply: Callable[[Session, Job], object] = transitions.requeue if action == "retry" else transitions.cancel
    # the jobs that match now, once: a retried job that fails again meanwhile is not retried twice
    with unit_of_work(db_url) as s:
        ids = list(s.scalars(stmt.with_only_columns(Job.id).order_by(Job.created_at, Job.id).limit(limit)))
    done = 0
    for i in range(0, len(ids), CHUNK):
        with unit_of_work(db_url) as s:      # each still matching once its row is ours
            rows = list(s.scalars(stmt.where(Job.id.in_(ids[i:i + CHUNK])).order_by(Job.created_at, Job.id)
                                  .with_for_update()))
            for job in rows:
                apply(s, job)
        done += len(rows)
    result["changed"] = done
    return result


# --- export -----------------------------------------------------------------------------------

EXPORT_FIELDS = ("id", "kind", "queue", "state", "caller", "attempts", "max_attempts", "progress",
                 "error_code", "error_message", "created_at", "started_at", "finished_at", "parent_id")


def export_rows(db_url: str, f: JobFilter, with_payload: bool = False) -> Iterator[dict]:
    """The matching jobs, oldest first, read in batches from one server-side cursor."""
    f = f.checked()
    stmt = f.where(select(Job)).order_by(Job.created_at, Job.id).execution_options(yield_per=CHUNK)
    with unit_of_work(db_url) as s:
        for job in s.scalars(stmt):
            row = {"id": job.id, "kind": job.kind, "queue": job.queue, "state": job.state, "caller": job.caller,
                   "attempts": job.attempts, "max_attempts": job.max_attempts, "progress": job.progress,
                   "error_code": (job.error or {}).get("code"), "error_message": (job.error or {}).get("message"),
                   "created_at": _iso(job.created_at), "started_at": _iso(job.started_at),
                   "finished_at": _iso(job.finished_at), "parent_id": job.parent_id}
            if with_payload:
                row["payload"] = job.payload
            yield row
            s.expunge(job)


def _iso(value: datetime | None) -> str | None:
    return _aware(value).isoformat() if value else None

