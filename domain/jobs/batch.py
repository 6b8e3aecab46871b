"""Many jobs written in one transaction (intake's group commit), each with its own outcome.

On PostgreSQL every job of the batch, its outbox row and its ``job.queued`` event are one
``INSERT … SELECT FROM unnest(…)`` statement; the idempotency race is settled by ``ON CONFLICT
DO NOTHING`` as for a single job. Elsewhere (SQLite) the jobs go through ``enqueueing.enqueue`` one
by one, still in one transaction. A job refused for its own reason (its data check, its key
used for another request) gets that error as its outcome and does not touch the others.
"""
from __future__ import annotations

import json
from datetime import datetime
from typing import NamedTuple, Union

from pydantic import ValidationError
from sqlalchemy import text
from sqlalchemy.orm import Session

from domain.db import new_id, utcnow
from domain.jobs import states
from domain.jobs.enqueueing import (IdempotencyConflict, UnknownKind, enqueue, job_kind, queued_job, replayed,
                                    request_hash)
from domain.jobs.errors import InvalidPayload
from domain.jobs.kinds import JobKind
from domain.jobs.models import Job
from domain.jobs.recording import QUEUED_EVENT, queued_data


class NewJob(NamedTuple):
    """A job to write; ``payload`` is already normalised (``enqueueing.validate_payload``)."""

    kind: str
    payload: dict
    caller: str
    idempotency_key: str | None = None
    run_at: datetime | None = None


Outcome = Union[tuple[Job, bool], Exception]    # (job, created) or why this one was refused

_INSERT_MANY_PG = text(f"""
WITH v AS (
  SELECT * FROM unnest(CAST(:ids AS varchar[]), CAST(:kinds AS varchar[]), CAST(:queues AS varchar[]),
                       CAST(:payloads AS text[]), CAST(:max_attempts AS int[]), CAST(:keys AS varchar[]),
                       CAST(:hashes AS varchar[]), CAST(:callers AS varchar[]), CAST(:run_ats AS timestamptz[]),
                       CAST(:event_datas AS text[]))
    AS v(id, kind, queue, payload, max_attempts, idempotency_key, request_hash, caller, run_at, event_data)),
j AS (
  INSERT INTO jobs (id, kind, queue, state, payload, attempts, max_attempts, progress, progress_message,
                    idempotency_key, request_hash, caller, parent_id, run_at, cancel_requested,
                    created_at, updated_at)
  SELECT id, kind, queue, '{states.QUEUED}', CAST(payload AS jsonb), 0, max_attempts, 0, '', idempotency_key,
         request_hash, caller, NULL, run_at, false, :now, :now FROM v
  ON CONFLICT ON CONSTRAINT uq_jobs_caller_idempotency_key DO NOTHING
  RETURNING id, kind, run_at),
o AS (INSERT INTO outbox (job_id, available_at, publish_attempts, created_at)
      SELECT id, coalesce(run_at, :now), 0, :now FROM j RETURNING id, job_id),
e AS (INSERT INTO job_events (job_id, type, data, created_at)
      SELECT j.id, '{QUEUED_EVENT}', CAST(v.event_data AS jsonb), :now
      FROM j JOIN v ON v.id = j.id RETURNING id, job_id)
SELECT o.job_id, o.id AS outbox_id, e.id AS event_id FROM o JOIN e ON e.job_id = o.job_id""")


def enqueue_each(session: Session, items: list[NewJob]) -> list[Outcome]:
    """Write every acceptable job of ``items``; outcomes in the same order."""
    outcomes: list[Outcome | None] = [None] * len(items)
    todo: list[tuple[int, JobKind]] = []        # (index, kind) of the jobs to write
    for i, item in enumerate(items):
        try:
            kind = job_kind(item.kind)
            if kind.validate is not None:
                kind.validate(session, kind.payload.model_validate(item.payload))
        except (UnknownKind, InvalidPayload, ValidationError) as exc:
            outcomes[i] = exc
            continue
        todo.append((i, kind))
    if session.get_bind().dialect.name != "postgresql":
        for i, _kind in todo:
            item = items[i]
            try:
                outcomes[i] = enqueue(session, item.kind, item.payload, caller=item.caller,
                                      idempotency_key=item.idempotency_key, run_at=item.run_at, check_data=False)
            except IdempotencyConflict as exc:
                outcomes[i] = exc
        return outcomes
    if todo:
        _insert_pg(session, items, todo, outcomes)
    return outcomes


def _insert_pg(session: Session, items: list[NewJob], todo: list[tuple[int, JobKind]], outcomes: list) -> None:
    now = utcnow()
    ids = [new_id() for _ in todo]
    picked = [items[i] for i, _ in todo]
    kinds = [kind for _, kind in todo]
    digests = [request_hash(item.kind, item.payload, item.run_at) for item in picked]
    written = {row.job_id: row for row in session.execute(_INSERT_MANY_PG, {
        "ids": ids, "kinds": [k.name for k in kinds], "queues": [k.queue for k in kinds],
        "payloads": [json.dumps(item.payload) for item in picked],
        "max_attempts": [k.max_attempts for k in kinds], "keys": [item.idempotency_key for item in picked],
        "hashes": digests, "callers": [item.caller for item in picked],
        "run_ats": [item.run_at for item in picked],
        "event_datas": [json.dumps(queued_data(k.name)) for k in kinds], "now": now})}
    for (i, kind), job_id, digest, item in zip(todo, ids, digests, picked):
        row = written.get(job_id)
        if row is None:     # its key is taken: the same request again, or a conflict
            try:
                outcomes[i] = replayed(session, item.caller, item.idempotency_key, digest), False
            except IdempotencyConflict as exc:
                outcomes[i] = exc
            continue
        values = dict(id=job_id, kind=kind.name, queue=kind.queue, state=states.QUEUED,
                      max_attempts=kind.max_attempts, idempotency_key=item.idempotency_key, request_hash=digest,
                      caller=item.caller, parent_id=None, run_at=item.run_at)
        job = queued_job(session, values, item.payload, now, row.outbox_id, row.event_id)
        outcomes[i] = job, True
