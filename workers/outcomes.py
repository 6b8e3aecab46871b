"""How a job's ending shows in Celery, and so in Flower: the task ends as the job did.

The job's state is committed first (``workers.base.execute``); then the task

- returns (SUCCESS) when the job succeeded, or was not run because another delivery holds it;
- raises ``JobFailed`` / ``JobDeadLettered`` (FAILURE) carrying the job's error code and message,
  chained to the engine's exception so Flower's traceback shows where it came from;
- sends ``task-revoked`` and raises Celery's ``Ignore`` (REVOKED) when the job was cancelled;
- raises Celery's ``Retry`` (RETRY) when the job will be tried again (unchanged).

Progress a job reports is sent as a ``task-progress`` event: Flower shows the custom state
PROGRESS with ``"42% message"`` in the result column until the task ends.

Revoking a task (Flower's Revoke or Terminate, ``celery control revoke``) cancels its job:
``on_task_revoked`` below runs in the worker that held the message, so a terminated job is
not requeued by the reaper and run again.
"""
from __future__ import annotations

import logging
from typing import Callable

from celery import signals
from celery.exceptions import Ignore

from celeryconfig import settings
from domain.db import unit_of_work
from domain.jobs import transitions

log = logging.getLogger(__name__)


class JobFailed(Exception):
    """The job ended ``failed``: its stored error, as the task's exception."""

    def __init__(self, job_id: str, code: str, message: str):
        super().__init__(f"{code}: {message}")
        self.job_id, self.code, self.message = job_id, code, message

    def __reduce__(self):     # Celery pickles/reprs exceptions for events: keep the arguments
        return type(self), (self.job_id, self.code, self.message)


class JobDeadLettered(JobFailed):
    """The job ended ``dead_lettered`` (retries exhausted or its worker lost too often)."""


def error_code(exc: BaseException, default: str) -> str:
    return getattr(exc, "code", None) or default


def failed(job_id: str, exc: BaseException, default_code: str = "permanent_error") -> JobFailed:
    return JobFailed(job_id, error_code(exc, default_code), str(exc)[:500])


def dead_lettered(job_id: str, exc: BaseException | None, message: str = "") -> JobDeadLettered:
    if exc is None:
        return JobDeadLettered(job_id, "worker_lost", message)
    return JobDeadLettered(job_id, error_code(exc, "retries_exhausted"), str(exc)[:500])


def revoke(task) -> None:
    """End the task as REVOKED (the job was cancelled, its state already committed)."""
    try:
        task.send_event("task-revoked", terminated=False, signum=None, expired=False)
    except Exception as exc:   # events are a view; never let them change the outcome
        log.debug("could not send task-revoked: %s", exc)
    raise Ignore()


def not_run(task, job_id: str, reason: str) -> dict:
    """A delivery that did not run its job: end the task as the job stands."""
    if reason == "cancelled":
        revoke(task)
    if reason == "failed":
        raise JobFailed(job_id, "already_failed", "the job had already failed")
    if reason == "dead_lettered":
        raise JobDeadLettered(job_id, "dead_lettered", "the job is dead-lettered")
    return {"skipped": reason}


def progress_sender(task) -> Callable[[int, str], None] | None:
    """A function sending this task's progress to Flower (None outside a worker). Captures
    the task's id and host now: engines may report progress from threads of their own."""
    req = task.request
    if not getattr(req, "hostname", None) or not req.id:
        return None
    app, task_id, hostname = task.app, req.id, req.hostname

    def send(percent: int, message: str) -> None:
        try:
            with app.events.default_dispatcher(hostname=hostname) as dispatcher:
                dispatcher.send("task-progress", uuid=task_id, retry=False,
                                result=f"{percent}% {message}".strip(), progress=percent)
        except Exception as exc:
            log.debug("could not send task-progress: %s", exc)

    return send


def register_progress_state() -> None:
    """In the process that watches events (Flower): PROGRESS ranks as STARTED does, so a later
    REVOKED still wins (Celery ranks unknown states above REVOKED)."""
    from celery import states

    states.PRECEDENCE_LOOKUP["PROGRESS"] = states.PRECEDENCE_LOOKUP[states.STARTED]


@signals.task_revoked.connect
def on_task_revoked(sender=None, request=None, terminated=False, expired=False, **_kw):
    """A job task revoked in this worker: cancel its job (a terminated one at once, its process
    is gone), so neither the reaper nor a redelivery runs it again."""
    if sender is None or not getattr(sender, "body", None) or request is None:
        return
    args = list(getattr(request, "args", None) or [])
    if not args:
        return
    job_id = args[0]
    reason = "task terminated from Celery control (Flower)" if terminated else "task revoked from Celery control (Flower)"
    try:
        with unit_of_work(settings.database_url) as s:
            transitions.revoke(s, job_id, reason, task_id=getattr(request, "id", None) if terminated else None)
    except Exception:
        log.exception("job %s: could not record the revoke of its task", job_id)
