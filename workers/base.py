"""The one base for every job task: claim a lease, run the engine, record the outcome.

A family's task is a plain function ``fn(ctx: JobContext, payload) -> dict`` declared with
``@job_task("kind")``. Lifecycle transitions, lease heartbeats, cancellation, retries with
exponential backoff and jitter (Celery's own ``retry`` and backoff helper), dead-lettering
and event publishing are written here once.
"""
from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import redis
import structlog
from celery import Task
from celery.exceptions import Ignore, Retry
from celery.utils.time import get_exponential_backoff_interval
from pydantic import ValidationError
from sqlalchemy.exc import OperationalError

from celeryconfig import settings
from domain.db import unit_of_work
from domain.jobs import runs, service
from domain.jobs.errors import InvalidPayload, JobCancelled, PermanentError, TransientError
from domain.jobs.kinds import catalog
from domain.storage import Storage, get_storage
from workers.app import app
from workers import metrics, outcomes
from workers.events import publish
from workers.per_process import PerProcess

log = logging.getLogger(__name__)

# errors that mean "try again later" for every family; a kind may add its own
DEFAULT_TRANSIENT: tuple[type[BaseException], ...] = (
    TransientError, TimeoutError, ConnectionError, OperationalError, redis.ConnectionError, redis.TimeoutError,
)


def backoff_delay(retries: int, retry_after: float | None = None) -> float:
    """Exponential backoff with full jitter (Celery's helper), at least ``Retry-After``."""
    delay = get_exponential_backoff_interval(factor=1, retries=retries, maximum=settings.retry_backoff_max,
                                             full_jitter=True)
    if retry_after:
        delay = max(delay, retry_after)
    return float(min(delay, settings.retry_backoff_max))


@dataclass
class JobContext:
    """What an engine may use while it runs. Everything else it gets through its payload."""

    job_id: str
    kind: str
    owner: str
    attempt: int
    max_attempts: int
    caller: str
    db_url: str
    cancel_event: threading.Event = field(default_factory=threading.Event)
    lost_event: threading.Event = field(default_factory=threading.Event)
    on_progress: Callable[[int, str], None] | None = None    # Flower's view (workers.outcomes)
    _last_progress: float = 0.0

    # --- state -------------------------------------------------------------------
    @property
    def cancelled(self) -> bool:
        return self.cancel_event.is_set() or self.lost_event.is_set()

    def check_cancelled(self) -> None:
        if self.cancel_event.is_set():
            raise JobCancelled("the job was cancelled")
        if self.lost_event.is_set():
            raise JobCancelled("this worker lost the job's lease")

    def progress(self, percent: float, message: str = "", *, force: bool = False) -> None:
        """Report progress (throttled to ~4 writes a second)."""
        now = time.monotonic()
        if not force and percent < 100 and now - self._last_progress < 0.25:
            return
        self._last_progress = now
        with unit_of_work(self.db_url) as s:
            service.set_progress(s, self.job_id, self.owner, percent, message)
        if self.on_progress is not None:
            self.on_progress(max(0, min(100, int(percent))), message[:200])

    # --- unit of work, events, sub-jobs ----------------------------------------------
    @contextmanager
    def uow(self) -> Iterator[Any]:
        with unit_of_work(self.db_url) as s:
            yield s

    def emit(self, name: str, data: dict, user_id: str | None = None, session=None) -> None:
        if session is not None:
            service.emit(session, self.job_id, name, data, user_id=user_id)
            return
        with self.uow() as s:
            service.emit(s, self.job_id, name, data, user_id=user_id)

    def enqueue(self, kind: str, payload: dict, idempotency_key: str | None = None, session=None):
        """Start a sub-job (fan-out). Give it a deterministic key so a rerun adds nothing."""
        def _do(s):
            job, _ = service.enqueue(s, kind, payload, caller=self.caller, idempotency_key=idempotency_key,
                                     parent_id=self.job_id, check_data=False)
            return job.id
        if session is not None:
            return _do(session)
        with self.uow() as s:
            return _do(s)

    @property
    def storage(self) -> Storage:
        return get_storage()

    @property
    def redis(self) -> redis.Redis:
        from workers.events import client

        return client()

    @property
    def settings(self):
        return settings


class LeaseKeeper(threading.Thread):
    """The process's heartbeat: every ``heartbeat_seconds`` it renews the lease of every job the
    process is running (one statement per database, whatever the pool size) and tells each run
    whether it was cancelled or lost its lease. One thread per process instead of one per run."""

    def __init__(self):
        super().__init__(name="lease-keeper", daemon=True)
        self.runs: dict[str, JobContext] = {}          # by owner: one entry per run
        self.lock = threading.Lock()

    def add(self, ctx: JobContext) -> None:
        with self.lock:
            self.runs[ctx.owner] = ctx

    def remove(self, ctx: JobContext) -> None:
        with self.lock:
            self.runs.pop(ctx.owner, None)

    def run(self) -> None:
        while True:
            time.sleep(settings.heartbeat_seconds)
            try:
                self.beat()
            except Exception:   # never let the keeper die: every lease of the process would lapse
                log.exception("lease keeper beat failed")

    def beat(self) -> None:
        with self.lock:
            runs = list(self.runs.values())
        by_db: dict[str, list[JobContext]] = {}
        for ctx in runs:
            by_db.setdefault(ctx.db_url, []).append(ctx)
        for db_url, ctxs in by_db.items():
            try:
                with unit_of_work(db_url) as s:
                    ours, cancel = service.renew_leases(s, [(c.job_id, c.owner) for c in ctxs],
                                                        settings.lease_seconds)
            except Exception:  # the DB may blip; the lease has slack for a missed beat
                log.exception("lease renewal failed for %d job(s)", len(ctxs))
                continue
            for ctx in ctxs:
                if ctx.job_id in cancel:
                    ctx.cancel_event.set()
                if (ctx.job_id, ctx.owner) not in ours:
                    ctx.lost_event.set()


def _start_keeper() -> LeaseKeeper:
    keeper = LeaseKeeper()
    keeper.start()
    return keeper


lease_keeper = PerProcess(_start_keeper)   # this process's keeper


class JobTask(Task):
    """Base for job tasks. ``acks_late`` + reject on worker lost come from celeryconfig."""

    abstract = True
    typing = False
    # Celery's own cap (3) would end a delivery that still has a job behind it: a claim the
    # database refused for the 4th time would drop the job's only message. The job's attempts
    # (max_attempts, dead letter) are the limit that counts, and they live in the database.
    max_retries = None
    engine: Callable[[JobContext, Any], dict] | None = None
    transient: tuple[type[BaseException], ...] = DEFAULT_TRANSIENT
    # a job's failure ends its task as FAILURE (workers.outcomes); execute has logged it already
    throws = (outcomes.JobFailed,)
    _known_options = {"transient", "time_limit", "soft_time_limit", "rate_limit"}

    def run_job(self, job_id: str) -> dict:
        return execute(self, job_id)


_HOST = socket.gethostname()


def _owner(task: Task) -> str:
    return f"{_HOST}:{os.getpid()}:{task.request.id}:{uuid.uuid4().hex[:8]}"


def execute(task: JobTask, job_id: str) -> dict:
    db_url = settings.database_url
    owner = _owner(task)
    try:
        job, reason, events = runs.claim(db_url, job_id, owner, settings.lease_seconds)
    except OperationalError as exc:   # the database is away: this message is all that knows of the job
        log.warning("job %s: could not claim (%s); delivered again later", job_id, exc)
        raise task.retry(args=[job_id], countdown=backoff_delay(task.request.retries), exc=exc)
    publish(events)
    if job is None:
        log.info("job %s not run: %s", job_id, reason)
        return outcomes.not_run(task, job_id, reason)
    ctx = JobContext(job_id=job.id, kind=job.kind, owner=owner, attempt=job.attempts,
                     max_attempts=job.max_attempts, caller=job.caller, db_url=db_url,
                     on_progress=outcomes.progress_sender(task))
    raw_payload = dict(job.payload)
    clock = metrics.started(ctx.kind, ctx.attempt, job.created_at, job.run_at)
    structlog.contextvars.bind_contextvars(job_id=job_id, kind=ctx.kind, attempt=ctx.attempt)
    keeper = lease_keeper()
    keeper.add(ctx)
    try:
        try:
            payload = catalog().kinds[ctx.kind].payload.model_validate(raw_payload)
        except ValidationError as exc:
            first = exc.errors()[0]
            raise InvalidPayload(".".join(str(p) for p in first["loc"]) or "payload", first["msg"]) from exc
        result = task.engine(ctx, payload)
    except (Retry, Ignore):
        raise
    except JobCancelled:
        with unit_of_work(db_url) as s:
            service.mark_cancelled(s, job_id, owner)
        metrics.ended(ctx.kind, "cancelled", clock)
        outcomes.revoke(task)
    except PermanentError as exc:
        with unit_of_work(db_url) as s:
            service.fail(s, job_id, owner, exc)
        log.warning("job %s failed permanently: %s", job_id, exc)
        metrics.ended(ctx.kind, "failed", clock)
        raise outcomes.failed(job_id, exc) from exc
    except task.transient as exc:
        if ctx.attempt >= ctx.max_attempts:
            with unit_of_work(db_url) as s:
                service.dead_letter(s, job_id, owner, exc)
            log.error("job %s dead-lettered after %s attempts: %s", job_id, ctx.attempt, exc)
            metrics.ended(ctx.kind, "dead_lettered", clock)
            raise outcomes.dead_lettered(job_id, exc) from exc
        delay = backoff_delay(ctx.attempt - 1, getattr(exc, "retry_after", None))
        with unit_of_work(db_url) as s:
            service.retrying(s, job_id, owner, exc, delay)
        metrics.ended(ctx.kind, "retrying", clock)
        raise task.retry(args=[job_id], countdown=delay, exc=exc, argsrepr=getattr(task.request, "argsrepr", None))
    except Exception as exc:  # a bug or an unexpected input: fail, keep the traceback, no retry
        with unit_of_work(db_url) as s:
            service.fail(s, job_id, owner, exc)
        log.exception("job %s failed with an unexpected error", job_id)
        metrics.ended(ctx.kind, "failed", clock)
        raise outcomes.failed(job_id, exc) from exc
    finally:
        keeper.remove(ctx)
        structlog.contextvars.clear_contextvars()
    recorded, events = runs.succeed(db_url, job_id, owner, result)
    publish(events)
    metrics.ended(ctx.kind, "succeeded" if recorded else "lost", clock)
    if not recorded:
        log.warning("job %s finished but its lease was no longer ours; result dropped", job_id)
    return {"ok": True}


def job_task(kind_name: str, **options: Any) -> Callable[[Callable], Task]:
    """Declare the task that runs ``kind_name``. Unknown options are refused (no silent typos)."""
    unknown = set(options) - JobTask._known_options
    if unknown:
        raise TypeError(f"unknown job_task option(s): {', '.join(sorted(unknown))}")
    kind = catalog().get(kind_name)
    if kind is None:
        raise LookupError(f"job kind {kind_name!r} is not declared in domain/<family>/kinds.py")
    transient = DEFAULT_TRANSIENT + tuple(options.pop("transient", ()))

    def decorate(fn: Callable[[JobContext, Any], dict]) -> Task:
        def run(self, job_id: str) -> dict:
            return execute(self, job_id)

        run.__name__ = fn.__name__
        run.__doc__ = fn.__doc__
        run.__module__ = fn.__module__
        return app.task(name=kind.task, base=JobTask, bind=True, queue=kind.queue,
                        engine=staticmethod(fn), transient=transient, **options)(run)

    return decorate
