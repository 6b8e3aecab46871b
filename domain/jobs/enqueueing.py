"""Starting jobs: validate a request, write the job, its outbox row and its ``job.queued`` event
in the caller's transaction, settle idempotency keys, and start the jobs an event reacts with.

On PostgreSQL one statement writes all three rows (one round trip) and ``ON CONFLICT DO
NOTHING`` settles a race on the idempotency key; elsewhere (SQLite, the embedded demo) the
ORM writes them and a savepoint settles the race.
"""
from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, make_transient_to_detached

from domain.db import new_id, utcnow
from domain.jobs import states
from domain.jobs.errors import InvalidPayload
from domain.jobs.kinds import Enqueue, JobKind, catalog
from domain.jobs.models import Job
from domain.jobs.recording import QUEUED_EVENT, add_outbox, queue_event, queue_written, queued_data, record_event


class UnknownKind(Exception):
    def __init__(self, kind: str):
        super().__init__(f"unknown job kind {kind!r}; known kinds: {', '.join(sorted(catalog().kinds))}")
        self.kind = kind


class IdempotencyConflict(Exception):
    def __init__(self, job_id: str):
        super().__init__("this Idempotency-Key was already used with a different request")
        self.job_id = job_id


def job_kind(name: str) -> JobKind:
    """The declared kind called ``name``; ``UnknownKind`` if there is none."""
    kind = catalog().get(name)
    if kind is None:
        raise UnknownKind(name)
    return kind


def validate_payload(kind: JobKind, payload: dict) -> dict:
    """Schema check; returns the normalised payload. Raises pydantic.ValidationError."""
    return kind.payload.model_validate(payload).model_dump(mode="json")


def parse_payload(kind_name: str, payload: dict) -> Any:
    """A stored payload as its kind's model, for the run; ``InvalidPayload`` names the first bad field."""
    try:
        return job_kind(kind_name).payload.model_validate(payload)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise InvalidPayload(".".join(str(p) for p in first["loc"]) or "payload", first["msg"]) from exc


def request_hash(kind: str, payload: dict, run_at: datetime | None = None) -> str:
    body = json.dumps({"kind": kind, "payload": payload, "run_at": run_at.isoformat() if run_at else None},
                      sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(body.encode()).hexdigest()


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
    record_event(session, job.id, QUEUED_EVENT, queued_data(kind_name))
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


_INSERT_PG = text(f"""
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
      SELECT id, '{QUEUED_EVENT}', CAST(:event_data AS jsonb), :now FROM j RETURNING id)
SELECT (SELECT id FROM o) AS outbox_id, (SELECT id FROM e) AS event_id""")


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
                                       "event_data": json.dumps(queued_data(kind.name))}).one()
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
    queue_written(session, outbox_id, job.id, job.run_at or now, job.kind, payload)
    queue_event(session, event_id, job.id, QUEUED_EVENT, queued_data(job.kind), now)
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
