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
import uuid
from typing import Any, Callable

import redis
import structlog
from celery import Task
from celery.exceptions import Ignore, Retry
from celery.utils.time import get_exponential_backoff_interval
from sqlalchemy.exc import OperationalError

from celeryconfig import settings
from domain.db import unit_of_work
from domain.jobs import enqueueing, runs, transitions
from domain.jobs.errors import JobCancelled, PermanentError, TransientError
from domain.jobs.kinds import catalog
from workers.app import app
from workers import metrics, outcomes
from workers.events import publish
from workers.context import JobContext, lease_keeper

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


class JobTask(Task):
    """Base for job tasks. ``acks_late`` + reject on worker lost come from celeryconfig."""

    abstract = True
    typing = False
    # Celery's own cap (3) would end a delivery that still has a job behind it: a claim the
    # database refused for the 4th time would drop the job's only message. The job's attempts
    # (max_attempts, dead letter) are the limit that counts, and they live in the database.
    max_retries = None
    body: Callable[[JobContext, Any], dict] | None = None      # the family's function, callable as is
    transient: tuple[type[BaseException], ...] = DEFAULT_TRANSIENT
    # a job's failure ends its task as FAILURE (workers.outcomes); execute has logged it already
    throws = (outcomes.JobFailed,)
    _known_options = {"transient", "time_limit", "soft_time_limit", "rate_limit"}


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
        result = task.body(ctx, enqueueing.parse_payload(ctx.kind, raw_payload))
    except (Retry, Ignore):
        raise
    except JobCancelled:
        with unit_of_work(db_url) as s:
            transitions.mark_cancelled(s, job_id, owner)
        metrics.ended(ctx.kind, "cancelled", clock)
        outcomes.revoke(task)
    except PermanentError as exc:
        with unit_of_work(db_url) as s:
            transitions.fail(s, job_id, owner, exc)
        log.warning("job %s failed permanently: %s", job_id, exc)
        metrics.ended(ctx.kind, "failed", clock)
        raise outcomes.failed(job_id, exc) from exc
    except task.transient as exc:
        if ctx.attempt >= ctx.max_attempts:
            with unit_of_work(db_url) as s:
                transitions.dead_letter(s, job_id, owner, exc)
            log.error("job %s dead-lettered after %s attempts: %s", job_id, ctx.attempt, exc)
            metrics.ended(ctx.kind, "dead_lettered", clock)
            raise outcomes.dead_lettered(job_id, exc) from exc
        delay = backoff_delay(ctx.attempt - 1, getattr(exc, "retry_after", None))
        with unit_of_work(db_url) as s:
            transitions.retrying(s, job_id, owner, exc, delay)
        metrics.ended(ctx.kind, "retrying", clock)
        raise task.retry(args=[job_id], countdown=delay, exc=exc, argsrepr=getattr(task.request, "argsrepr", None))
    except Exception as exc:  # a bug or an unexpected input: fail, keep the traceback, no retry
        with unit_of_work(db_url) as s:
            transitions.fail(s, job_id, owner, exc)
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
                        body=staticmethod(fn), transient=transient, **options)(run)

    return decorate
