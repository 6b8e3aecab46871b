"""Moving a job between states, each move a row update plus its event in the caller's transaction.

A run's own endings (fail, retry, dead-letter, cancelled while running) happen only while the
run holds the job's lease (``leases.owned``); cancellation, revocation and operator retries
act on a job whoever runs it. A job that ends without success lets its family end its own rows
in the same transaction (``JobKind.on_end``).
"""
from __future__ import annotations

import traceback
from datetime import datetime

from sqlalchemy.orm import Session

from domain.core import redact
from domain.db import utcnow
from domain.jobs import states
from domain.jobs.kinds import catalog
from domain.jobs.leases import owned
from domain.jobs.models import Job
from domain.jobs.recording import add_outbox, record_event, transition_data


class NotRetryable(Exception):
    pass


def set_state(session: Session, job: Job, target: str, data: dict | None = None) -> None:
    states.check(job.state, target)
    job.state = target
    job.updated_at = utcnow()
    if target in states.TERMINAL:
        job.finished_at = utcnow()
        job.lease_owner = None
        job.lease_expires_at = None
    record_event(session, job.id, f"job.{target}", transition_data(target, job.attempts, **(data or {})))
    if target in states.TERMINAL and target != states.SUCCEEDED:
        kind = catalog().get(job.kind)
        if kind is not None and kind.on_end is not None:
            kind.on_end(session, job, target)   # same transaction: the family's rows end with the job


def error_record(exc: BaseException, code: str) -> dict:
    """The ``error`` a job keeps: code, type, message and traceback, secrets masked."""
    lines = traceback.format_exception(type(exc), exc, exc.__traceback__)
    return {"code": getattr(exc, "code", code), "type": type(exc).__name__,
            "message": redact.mask_text(str(exc)[:2000]), "details": getattr(exc, "details", []),
            "traceback": redact.mask_text("".join(lines)[-4000:])}


def fail(session: Session, job_id: str, owner: str, exc: BaseException) -> bool:
    """Permanent error: no retry."""
    job = owned(session, job_id, owner)
    if job is None:
        return False
    job.error = error_record(exc, "permanent_error")
    set_state(session, job, states.FAILED, {"error": {k: job.error[k] for k in ("code", "message")}})
    return True


def retrying(session: Session, job_id: str, owner: str, exc: BaseException, delay: float) -> bool:
    job = owned(session, job_id, owner)
    if job is None:
        return False
    job.error = error_record(exc, "transient_error")
    job.lease_owner = None
    job.lease_expires_at = None
    set_state(session, job, states.RETRYING, {"error": job.error["message"], "retry_in": round(delay, 3)})
    return True


def dead_letter(session: Session, job_id: str, owner: str, exc: BaseException) -> bool:
    job = owned(session, job_id, owner)
    if job is None:
        return False
    job.error = error_record(exc, "retries_exhausted")
    set_state(session, job, states.DEAD_LETTERED, {"error": job.error["message"]})
    return True


def dead_letter_lost(session: Session, job: Job) -> None:
    job.error = {"code": "worker_lost", "type": "WorkerLost",
                 "message": f"the worker running this job was lost {job.attempts} time(s)",
                 "details": [], "traceback": ""}
    set_state(session, job, states.DEAD_LETTERED, {"error": job.error["message"]})


def mark_cancelled(session: Session, job_id: str, owner: str) -> bool:
    job = owned(session, job_id, owner)
    if job is None:
        return False
    set_state(session, job, states.CANCELLED, {"reason": "cancelled while running"})
    return True


def not_claimed(session: Session, job_id: str, now: datetime) -> tuple[None, str]:
    """Why a claim took nothing: terminal, cancelled (ended here), out of deliveries
    (dead-lettered here), or a live lease held by someone else (a duplicate delivery: skip it)."""
    job = session.get(Job, job_id, with_for_update=True)
    if job is None:
        return None, "missing"
    if job.state in states.TERMINAL:
        return None, job.state
    if job.cancel_requested:
        set_state(session, job, states.CANCELLED, {"reason": "cancelled before start"})
        return None, "cancelled"
    if job.state == states.RUNNING and job.attempts >= job.max_attempts and (
        job.lease_expires_at is None or job.lease_expires_at < now
    ):
        dead_letter_lost(session, job)
        return None, "dead_lettered"
    return None, "leased"


def cancel(session: Session, job: Job) -> bool:
    """Cancel a queued/retrying job now; ask a running one to stop (its heartbeat sees it)."""
    if job.state in states.TERMINAL:
        return False
    job.cancel_requested = True
    if job.state in (states.QUEUED, states.RETRYING):
        set_state(session, job, states.CANCELLED, {"reason": "cancelled on request"})
    else:
        record_event(session, job.id, "job.cancel_requested", {"state": job.state})
    return True


def revoke(session: Session, job_id: str, reason: str, task_id: str | None = None) -> bool:
    """The job's Celery task was revoked (Flower, ``celery control revoke``): cancel the job.
    A running job whose lease the revoked task held (``task_id`` in its owner: that process
    was terminated) ends now; one run by another delivery is asked to stop, as ``cancel`` does."""
    job = session.get(Job, job_id, with_for_update=True)
    if job is None or job.state in states.TERMINAL:
        return False
    job.cancel_requested = True
    if job.state != states.RUNNING or (task_id and f":{task_id}:" in (job.lease_owner or "")):
        set_state(session, job, states.CANCELLED, {"reason": reason})
    else:
        record_event(session, job.id, "job.cancel_requested", {"state": job.state, "reason": reason})
    return True


def requeue(session: Session, job: Job) -> None:
    """A failed or dead-lettered job queued again with fresh attempts (an operator's retry)."""
    set_state(session, job, states.QUEUED, {"reason": "requeued by operator"})
    job.attempts = 0
    job.error = None
    job.cancel_requested = False
    job.finished_at = None
    add_outbox(session, job.id, job.kind, payload=job.payload)


def republish(session: Session, job: Job, reason: str) -> None:
    """Publish a waiting job's message again (its state, attempts and lease untouched): the one
    it had may be lost. A duplicate delivery finds the job claimed or done and skips."""
    job.updated_at = utcnow()
    add_outbox(session, job.id, job.kind, payload=job.payload)
    record_event(session, job.id, "job.republished", {"state": job.state, "reason": reason})


def operator_retry(session: Session, job: Job) -> str:
    """An operator's retry: a failed or dead-lettered job is requeued with fresh attempts; a
    ``queued`` or ``retrying`` one (stuck: its message lost) is published again. Returns what
    was done; ``NotRetryable`` for a running, succeeded or cancelled job."""
    if job.state in (states.FAILED, states.DEAD_LETTERED):
        requeue(session, job)
        return "requeued"
    if job.state in (states.QUEUED, states.RETRYING):
        republish(session, job, "republished by operator")
        return "republished"
    raise NotRetryable(f"only failed, dead-lettered, queued or retrying jobs can be retried; this one is {job.state}")
