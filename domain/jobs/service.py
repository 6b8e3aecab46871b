"""Job lifecycle operations on a Session. Every transition is a row update plus an event row.

Events recorded here are also queued on ``session.info["events"]``, and every outbox row
written here on ``session.info["publish"]``; whoever owns the session's commit (workers,
intake) publishes both after the commit succeeds (``workers.events.install``), and the
relay publishes whatever that missed.
"""
from __future__ import annotations

import hashlib
import json
import traceback as tb
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from pydantic import ValidationError
from sqlalchemy import and_, or_, select, text, tuple_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, make_transient_to_detached

from domain.core import redact
from domain.db import new_id, utcnow
from domain.jobs import states
from domain.jobs.errors import InvalidPayload
from domain.jobs.kinds import Enqueue, JobKind, catalog
from domain.jobs.models import Job, JobEvent, Outbox


class UnknownKind(Exception):
    def __init__(self, kind: str):
        super().__init__(f"unknown job kind {kind!r}; known kinds: {', '.join(sorted(catalog().kinds))}")
        self.kind = kind


class IdempotencyConflict(Exception):
    def __init__(self, job_id: str):
        super().__init__("this Idempotency-Key was already used with a different request")
        self.job_id = job_id


def request_hash(kind: str, payload: dict, run_at: datetime | None = None) -> str:
    body = json.dumps({"kind": kind, "payload": payload, "run_at": run_at.isoformat() if run_at else None},
                      sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(body.encode()).hexdigest()


def record_event(session: Session, job_id: str | None, type_: str, data: dict | None = None,
                 user_id: str | None = None) -> JobEvent:
    ev = JobEvent(job_id=job_id, type=type_, data=data or {}, user_id=user_id, created_at=utcnow())
    session.add(ev)
    session.info.setdefault("events", []).append(ev)
    return ev


def add_outbox(session: Session, job_id: str, kind_name: str, available_at: datetime | None = None,
               payload: dict | None = None) -> Outbox:
    """An outbox row for the job, also queued for publishing right after this commit (the
    payload only labels the message, see ``domain.jobs.labels``)."""
    row = Outbox(job_id=job_id, available_at=available_at or utcnow())
    session.add(row)
    session.info.setdefault("publish", []).append((row, kind_name, payload))
    return row


def validate_payload(kind: JobKind, payload: dict) -> dict:
    """Schema check; returns the normalised payload. Raises pydantic.ValidationError."""
    return kind.payload.model_validate(payload).model_dump(mode="json")


def enqueue(session: Session, kind_name: str, payload: dict, *, caller: str = "system",
            idempotency_key: str | None = None, run_at: datetime | None = None,
            parent_id: str | None = None, check_data: bool = True) -> tuple[Job, bool]:
    """Write a job row and its outbox row (same transaction). Returns (job, created).

    Same caller + idempotency key + same request → the existing job; different request → conflict.
    """
    kind = job_kind(kind_name)
    normalised = validate_payload(kind, payload)
    if check_data and kind.validate is not None:
        kind.validate(session, kind.payload.model_validate(normalised))
    digest = request_hash(kind_name, normalised, run_at)
    if idempotency_key and (existing := replayed(session, caller, idempotency_key, digest)) is not None:
        return existing, False
    if session.get_bind().dialect.name == "postgresql":
        return _insert_pg(session, kind, normalised, digest, caller, idempotency_key, run_at, parent_id)
    job = Job(kind=kind_name, queue=kind.queue, state=states.QUEUED, payload=normalised,
              attempts=0, max_attempts=kind.max_attempts, idempotency_key=idempotency_key,
              request_hash=digest, caller=caller, run_at=run_at, parent_id=parent_id,
              progress=0, progress_message="")
    if idempotency_key:
        try:
            with session.begin_nested():
                session.add(job)
                session.flush()
        except IntegrityError:  # a concurrent request with the same key won the race
            existing = replayed(session, caller, idempotency_key, digest)
            if existing is None:
                raise
            return existing, False
    else:
        session.add(job)
        session.flush()
    add_outbox(session, job.id, kind_name, run_at, normalised)
    record_event(session, job.id, "job.queued", {"state": states.QUEUED, "kind": kind_name})
    return job, True


def lock_idempotency_key(session: Session, caller: str, idempotency_key: str | None) -> None:
    """Serialise the transactions that use one caller's idempotency key (PostgreSQL: a transaction
    advisory lock, released at commit). For an endpoint that writes rows of its own before the job
    (a submission, say): without it, concurrent identical requests each write theirs, and all
    but one then find the key taken by a job for a different row."""
    if idempotency_key and session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"),
                        {"k": f"idempotency:{caller}:{idempotency_key}"})


def replayed(session: Session, caller: str, idempotency_key: str, digest: str) -> Job | None:
    """The job this caller already made with this key (None if none), if it was the same request;
    a different request with the same key is a conflict."""
    existing = session.scalar(select(Job).where(Job.caller == caller, Job.idempotency_key == idempotency_key))
    if existing is not None and existing.request_hash != digest:
        raise IdempotencyConflict(existing.id)
    return existing


_INSERT_PG = text("""
WITH j AS (
  INSERT INTO jobs (id, kind, queue, state, payload, attempts, max_attempts, progress, progress_message,
                    idempotency_key, request_hash, caller, parent_id, run_at, cancel_requested,
                    created_at, updated_at)
  VALUES (:id, :kind, :queue, :state, CAST(:payload AS jsonb), 0, :max_attempts, 0, '', :idempotency_key,
          :request_hash, :caller, :parent_id, :run_at, false, :now, :now)
  ON CONFLICT ON CONSTRAINT uq_jobs_caller_idempotency_key DO NOTHING
  RETURNING id),
o AS (INSERT INTO outbox (job_id, available_at, publish_attempts, created_at)
      SELECT id, :available_at, 0, :now FROM j RETURNING id),
e AS (INSERT INTO job_events (job_id, type, data, created_at)
      SELECT id, 'job.queued', CAST(:event_data AS jsonb), :now FROM j RETURNING id)
SELECT (SELECT id FROM o) AS outbox_id, (SELECT id FROM e) AS event_id""")


class Written(NamedTuple):
    """An outbox row already inserted (PostgreSQL fast path), as the after-commit publisher reads it."""
    id: int
    job_id: str
    available_at: datetime


def _insert_pg(session: Session, kind: JobKind, payload: dict, digest: str, caller: str,
               idempotency_key: str | None, run_at: datetime | None, parent_id: str | None) -> tuple[Job, bool]:
    """PostgreSQL: job, outbox row and ``job.queued`` event in one statement (one round trip),
    the idempotency race settled by ``ON CONFLICT DO NOTHING``. The Job joins the session as
    a loaded row, so later changes to it flush as ordinary UPDATEs."""
    now = utcnow()
    values = dict(id=new_id(), kind=kind.name, queue=kind.queue, state=states.QUEUED, max_attempts=kind.max_attempts,
                  idempotency_key=idempotency_key, request_hash=digest, caller=caller, parent_id=parent_id,
                  run_at=run_at)
    row = session.execute(_INSERT_PG, {**values, "payload": json.dumps(payload), "now": now,
                                       "available_at": run_at or now,
                                       "event_data": json.dumps({"state": states.QUEUED, "kind": kind.name})}).one()
    if row.outbox_id is None:   # the idempotency key is taken (perhaps by a request that just committed)
        return replayed(session, caller, idempotency_key, digest), False
    job = queued_job(session, values, payload, now, row.outbox_id, row.event_id)
    make_transient_to_detached(job)
    session.add(job)
    return job, True


def queued_job(session: Session, values: dict, payload: dict, now: datetime, outbox_id: int, event_id: int) -> Job:
    """The Job that SQL just inserted as queued (``values``: its columns as inserted; nothing is
    read back), its message and its ``job.queued`` event queued for the after-commit publish."""
    job = Job(**values, payload=payload, attempts=0, progress=0, progress_message="", result=None, error=None,
              cancel_requested=False, lease_owner=None, lease_expires_at=None, created_at=now, updated_at=now,
              started_at=None, finished_at=None)
    session.info.setdefault("publish", []).append((Written(outbox_id, job.id, job.run_at or now), job.kind, payload))
    queue_event(session, event_id, job.id, f"job.{states.QUEUED}", {"state": states.QUEUED, "kind": job.kind}, now)
    return job


def enqueue_many(session: Session, requests: list[Enqueue], caller: str = "system") -> list[Job]:
    jobs = []
    for req in requests:
        job, _ = enqueue(session, req.kind, req.payload, caller=caller,
                         idempotency_key=req.idempotency_key, parent_id=req.parent_id, check_data=False)
        jobs.append(job)
    return jobs


def emit(session: Session, job_id: str | None, name: str, data: dict, user_id: str | None = None) -> list[Job]:
    """A domain event (``quiz.graded``, ``course.passed``...): recorded, then its reactions enqueued."""
    record_event(session, job_id, name, data, user_id=user_id)
    started: list[Job] = []
    for reaction in catalog().reactions.get(name, []):
        started.extend(enqueue_many(session, reaction(data)))
    return started


def _set_state(session: Session, job: Job, target: str, data: dict | None = None) -> None:
    states.check(job.state, target)
    job.state = target
    job.updated_at = utcnow()
    if target in states.TERMINAL:
        job.finished_at = utcnow()
        job.lease_owner = None
        job.lease_expires_at = None
    record_event(session, job.id, f"job.{target}", {"state": target, "attempts": job.attempts, **(data or {})})
    if target in states.TERMINAL and target != states.SUCCEEDED:
        kind = catalog().get(job.kind)
        if kind is not None and kind.on_end is not None:
            kind.on_end(session, job, target)   # same transaction: the family's rows end with the job


class Claimed(NamedTuple):
    """What a run needs from the job it just claimed."""
    id: str
    kind: str
    attempts: int
    max_attempts: int
    caller: str
    payload: dict
    created_at: datetime | None = None     # with run_at: when it became due (wait-time metric)
    run_at: datetime | None = None


def claim(session: Session, job_id: str, owner: str, lease_seconds: int) -> tuple[Claimed | None, str]:
    """Take the job's lease for this run. Returns (job, reason); job is None when not to run.

    One atomic ``UPDATE … RETURNING`` decides: claimable states, or a running job whose lease
    has expired (its worker died) and that has deliveries left. Otherwise ``not_claimed`` says
    why not. (Workers on PostgreSQL claim through ``domain.jobs.runs``: the same update as one
    prepared statement on the thread's own connection.)
    """
    now = utcnow()
    claimed = session.scalars(
        update(Job)
        .where(Job.id == job_id, Job.cancel_requested.is_(False))
        .where(or_(Job.state.in_(states.CLAIMABLE),
                   and_(Job.state == states.RUNNING, Job.lease_expires_at < now,
                        Job.attempts < Job.max_attempts)))
        .values(state=states.RUNNING, lease_owner=owner, lease_expires_at=now + timedelta(seconds=lease_seconds),
                attempts=Job.attempts + 1, started_at=now, updated_at=now)
        .returning(Job)
        .execution_options(populate_existing=True)
    ).first()
    if claimed is not None:
        record_event(session, claimed.id, "job.running", {"state": states.RUNNING, "attempts": claimed.attempts})
        return Claimed(claimed.id, claimed.kind, claimed.attempts, claimed.max_attempts, claimed.caller,
                       claimed.payload, claimed.created_at, claimed.run_at), "claimed"
    return not_claimed(session, job_id, now)


def inserted_event(event_id: int, job_id: str, type_: str, data: dict, at: datetime) -> JobEvent:
    """An event row already inserted by SQL, as the after-commit publisher reads it."""
    return JobEvent(id=event_id, job_id=job_id, type=type_, data=data, user_id=None, created_at=at)


def queue_event(session: Session, event_id: int, job_id: str, type_: str, data: dict, at: datetime) -> None:
    """An event row already inserted by SQL, queued for the after-commit publish."""
    session.info.setdefault("events", []).append(inserted_event(event_id, job_id, type_, data, at))


def not_claimed(session: Session, job_id: str, now: datetime) -> tuple[Job | None, str]:
    """Why a claim took nothing: terminal, cancelled (ended here), out of deliveries
    (dead-lettered here), or a live lease held by someone else (a duplicate delivery: skip it)."""
    job = session.get(Job, job_id, with_for_update=True)
    if job is None:
        return None, "missing"
    if job.state in states.TERMINAL:
        return None, job.state
    if job.cancel_requested:
        _set_state(session, job, states.CANCELLED, {"reason": "cancelled before start"})
        return None, "cancelled"
    if job.state == states.RUNNING and job.attempts >= job.max_attempts and (
        job.lease_expires_at is None or job.lease_expires_at < now
    ):
        dead_letter_lost(session, job)
        return None, "dead_lettered"
    return None, "leased"


def renew_leases(session: Session, runs: list[tuple[str, str]], lease_seconds: int) -> tuple[set, set]:
    """Heartbeat for the runs of one process, given as (job id, owner) pairs: extends the leases
    still theirs. Returns (the pairs still theirs, the job ids whose cancellation was asked)."""
    if not runs:
        return set(), set()
    ours = session.execute(
        update(Job).where(tuple_(Job.id, Job.lease_owner).in_(runs), Job.state == states.RUNNING)
        .values(lease_expires_at=utcnow() + timedelta(seconds=lease_seconds))
        .returning(Job.id, Job.lease_owner)
        .execution_options(synchronize_session=False)
    ).all()
    cancel = session.scalars(select(Job.id).where(Job.id.in_([job_id for job_id, _ in runs]),
                                                  Job.cancel_requested.is_(True)))
    return {tuple(row) for row in ours}, set(cancel)


def _owned(session: Session, job_id: str, owner: str) -> Job | None:
    job = session.get(Job, job_id, with_for_update=True)
    if job is None or job.state != states.RUNNING or job.lease_owner != owner:
        return None
    return job


def set_progress(session: Session, job_id: str, owner: str, percent: float, message: str = "") -> None:
    pct = max(0, min(100, int(percent)))
    res = session.execute(
        update(Job).where(Job.id == job_id, Job.lease_owner == owner, Job.state == states.RUNNING)
        .values(progress=pct, progress_message=message[:500], updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if res.rowcount:
        record_event(session, job_id, "job.progress", {"progress": pct, "message": message[:500]})


def succeed(session: Session, job_id: str, owner: str, result: dict | None) -> bool:
    """Record success only if this run still holds the lease (one conditional UPDATE).
    (Workers on PostgreSQL go through ``domain.jobs.runs``.)"""
    now = utcnow()
    attempts = session.scalar(
        update(Job)
        .where(Job.id == job_id, Job.lease_owner == owner, Job.state == states.RUNNING)
        .values(state=states.SUCCEEDED, result=result or {}, progress=100, error=None, finished_at=now,
                updated_at=now, lease_owner=None, lease_expires_at=None)
        .returning(Job.attempts)
        .execution_options(synchronize_session=False)
    )
    if attempts is None:
        return False
    record_event(session, job_id, "job.succeeded",
                 {"state": states.SUCCEEDED, "attempts": attempts, "result": result or {}})
    return True


def _error(exc: BaseException, code: str) -> dict:
    lines = tb.format_exception(type(exc), exc, exc.__traceback__)
    summary = redact.mask_text("".join(lines)[-4000:])
    return {"code": getattr(exc, "code", code), "type": type(exc).__name__,
            "message": redact.mask_text(str(exc)[:2000]), "details": getattr(exc, "details", []),
            "traceback": summary}


def fail(session: Session, job_id: str, owner: str | None, exc: BaseException) -> bool:
    """Permanent error: no retry."""
    job = session.get(Job, job_id, with_for_update=True)
    if job is None or job.state in states.TERMINAL or (owner and job.lease_owner != owner):
        return False
    job.error = _error(exc, "permanent_error")
    _set_state(session, job, states.FAILED, {"error": {k: job.error[k] for k in ("code", "message")}})
    return True


def retrying(session: Session, job_id: str, owner: str, exc: BaseException, delay: float) -> bool:
    job = _owned(session, job_id, owner)
    if job is None:
        return False
    job.error = _error(exc, "transient_error")
    job.lease_owner = None
    job.lease_expires_at = None
    _set_state(session, job, states.RETRYING, {"error": job.error["message"], "retry_in": round(delay, 3)})
    return True


def dead_letter(session: Session, job_id: str, owner: str | None, exc: BaseException) -> bool:
    job = session.get(Job, job_id, with_for_update=True)
    if job is None or job.state in states.TERMINAL or (owner and job.lease_owner not in (owner, None)):
        return False
    job.error = _error(exc, "retries_exhausted")
    _set_state(session, job, states.DEAD_LETTERED, {"error": job.error["message"]})
    return True


def dead_letter_lost(session: Session, job: Job) -> None:
    job.error = {"code": "worker_lost", "type": "WorkerLost",
                 "message": f"the worker running this job was lost {job.attempts} time(s)",
                 "details": [], "traceback": ""}
    _set_state(session, job, states.DEAD_LETTERED, {"error": job.error["message"]})


def cancel(session: Session, job: Job) -> bool:
    """Cancel a queued/retrying job now; ask a running one to stop (its heartbeat sees it)."""
    if job.state in states.TERMINAL:
        return False
    job.cancel_requested = True
    if job.state in (states.QUEUED, states.RETRYING):
        _set_state(session, job, states.CANCELLED, {"reason": "cancelled on request"})
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
        _set_state(session, job, states.CANCELLED, {"reason": reason})
    else:
        record_event(session, job.id, "job.cancel_requested", {"state": job.state, "reason": reason})
    return True


def mark_cancelled(session: Session, job_id: str, owner: str) -> bool:
    job = _owned(session, job_id, owner)
    if job is None:
        return False
    _set_state(session, job, states.CANCELLED, {"reason": "cancelled while running"})
    return True


class NotRetryable(Exception):
    pass


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


def requeue(session: Session, job: Job, *, reset_attempts: bool = True) -> None:
    """Operator retry of a failed or dead-lettered job."""
    _set_state(session, job, states.QUEUED, {"reason": "requeued by operator"})
    if reset_attempts:
        job.attempts = 0
    job.error = None
    job.cancel_requested = False
    job.finished_at = None
    add_outbox(session, job.id, job.kind, payload=job.payload)


# --------------------------------------------------------------------------- relay & reaper

def due_outbox(session: Session, limit: int = 100, grace_seconds: float = 2.0) -> list[Outbox]:
    """Unpublished outbox rows that are due, locked so concurrent relays skip them.

    Rows younger than ``grace_seconds`` are left to the writer's own publish-after-commit,
    so the relay neither double-publishes them nor makes that publish wait on its locks."""
    now = utcnow()
    stmt = (select(Outbox).where(Outbox.published_at.is_(None), Outbox.available_at <= now,
                                 Outbox.created_at <= now - timedelta(seconds=grace_seconds))
            .order_by(Outbox.id).limit(limit).with_for_update(skip_locked=True))
    return list(session.scalars(stmt))


def reap_expired(session: Session, limit: int = 100) -> list[str]:
    """Running jobs whose lease expired (worker killed): requeue through the outbox, or
    dead-letter when their deliveries are exhausted. Returns the affected job ids."""
    now = utcnow()
    stmt = (select(Job).where(Job.state == states.RUNNING, Job.lease_expires_at < now)
            .order_by(Job.lease_expires_at).limit(limit).with_for_update(skip_locked=True))
    touched = []
    for job in session.scalars(stmt):
        touched.append(job.id)
        if job.cancel_requested:      # asked to stop (API, Flower revoke): never run it again
            _set_state(session, job, states.CANCELLED, {"reason": "cancelled; worker lost"})
        elif job.attempts >= job.max_attempts:
            dead_letter_lost(session, job)
        else:
            job.lease_owner = None
            job.lease_expires_at = None
            _set_state(session, job, states.QUEUED, {"reason": "lease expired: worker lost"})
            add_outbox(session, job.id, job.kind, now, job.payload)
    return touched


def republish(session: Session, job: Job, reason: str) -> None:
    """Publish a waiting job's message again (its state, attempts and lease untouched): the one
    it had may be lost. A duplicate delivery finds the job claimed or done and skips."""
    job.updated_at = utcnow()
    add_outbox(session, job.id, job.kind, payload=job.payload)
    record_event(session, job.id, "job.republished", {"state": job.state, "reason": reason})


def stranded(session: Session, queued_for: float, retry_overdue_for: float, queues: set[str] | None = None,
             limit: int = 100) -> list[Job]:
    """Jobs nobody claimed for too long, whatever their outbox rows say: ``queued`` and due for
    more than ``queued_for`` seconds, or ``retrying`` with their latest state change more than
    ``retry_overdue_for`` seconds ago. Their message may be lost (Redis lost data; a worker died
    holding it before the claim). A job still waiting on an unpublished outbox row is the
    relay's already; ``queues`` limits the search to the queues whose backlog is empty, so a
    job still waiting in line is not given a second message. Locked, skipping locked rows."""
    now = utcnow()
    queued_cutoff = now - timedelta(seconds=queued_for)
    pending = select(Outbox.id).where(Outbox.job_id == Job.id, Outbox.published_at.is_(None)).exists()
    stmt = (select(Job)
            .where(or_(and_(Job.state == states.QUEUED, Job.updated_at < queued_cutoff,
                            or_(Job.run_at.is_(None), Job.run_at < queued_cutoff)),
                       and_(Job.state == states.RETRYING,
                            Job.updated_at < now - timedelta(seconds=retry_overdue_for))),
                   Job.cancel_requested.is_(False), ~pending)
            .order_by(Job.updated_at).limit(limit).with_for_update(skip_locked=True))
    if queues is not None:
        if not queues:
            return []
        stmt = stmt.where(Job.queue.in_(sorted(queues)))
    return list(session.scalars(stmt))


def republish_stranded(session: Session, queued_for: float, retry_overdue_for: float,
                       queues: set[str] | None = None, limit: int = 100) -> list[str]:
    """Publish every stranded job (``stranded``) again. Returns their ids."""
    jobs = stranded(session, queued_for, retry_overdue_for, queues, limit)
    for job in jobs:
        reason = "retry message overdue" if job.state == states.RETRYING else "queued too long without a claim"
        republish(session, job, reason)
    return [job.id for job in jobs]


def job_kind(name: str) -> JobKind:
    """The declared kind called ``name``; ``UnknownKind`` if there is none."""
    kind = catalog().get(name)
    if kind is None:
        raise UnknownKind(name)
    return kind


def payload_model(job: Job) -> Any:
    try:
        return job_kind(job.kind).payload.model_validate(job.payload)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise InvalidPayload(".".join(str(p) for p in first["loc"]) or "payload", first["msg"]) from exc
