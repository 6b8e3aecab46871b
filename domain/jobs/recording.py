"""What a transition writes besides the job row: its event, and the outbox row that publishes it.

Every event and outbox row made here is also queued on the session (``session.info["events"]``
and ``session.info["publish"]``); whoever owns the session's commit (workers, intake) publishes
both after the commit succeeds (``workers.events.install``), and the relay publishes whatever
that missed. Rows that SQL inserted itself (the PostgreSQL fast paths) are queued the same way.
"""
from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from sqlalchemy.orm import Session

from domain.db import utcnow
from domain.jobs import states
from domain.jobs.models import JobEvent, Outbox

QUEUED_EVENT = f"job.{states.QUEUED}"


def queued_data(kind: str) -> dict:
    """The data of a ``job.queued`` event, however the job was written."""
    return {"state": states.QUEUED, "kind": kind}


def transition_data(state: str, attempts: int, **extra) -> dict:
    """The data of a ``job.<state>`` event for a job that has made ``attempts`` runs."""
    return {"state": state, "attempts": attempts, **extra}


def record_event(session: Session, job_id: str | None, type_: str, data: dict | None = None,
                 user_id: str | None = None) -> JobEvent:
    ev = JobEvent(job_id=job_id, type=type_, data=data or {}, user_id=user_id, created_at=utcnow())
    session.add(ev)
    session.info.setdefault("events", []).append(ev)
    return ev


def inserted_event(event_id: int, job_id: str, type_: str, data: dict, at: datetime) -> JobEvent:
    """An event row already inserted by SQL, as the after-commit publisher reads it."""
    return JobEvent(id=event_id, job_id=job_id, type=type_, data=data, user_id=None, created_at=at)


def queue_event(session: Session, event_id: int, job_id: str, type_: str, data: dict, at: datetime) -> None:
    """An event row already inserted by SQL, queued for the after-commit publish."""
    session.info.setdefault("events", []).append(inserted_event(event_id, job_id, type_, data, at))


class Written(NamedTuple):
    """An outbox row already inserted by SQL, as the after-commit publisher reads it."""
    id: int
    job_id: str
    available_at: datetime


def add_outbox(session: Session, job_id: str, kind_name: str, available_at: datetime | None = None,
               payload: dict | None = None) -> Outbox:
    """An outbox row for the job, also queued for publishing right after this commit (the
    payload only labels the message, see ``domain.jobs.labels``)."""
    row = Outbox(job_id=job_id, available_at=available_at or utcnow())
    session.add(row)
    session.info.setdefault("publish", []).append((row, kind_name, payload))
    return row


def queue_written(session: Session, outbox_id: int, job_id: str, available_at: datetime, kind_name: str,
                  payload: dict) -> None:
    """An outbox row already inserted by SQL, queued for publishing right after this commit."""
    session.info.setdefault("publish", []).append((Written(outbox_id, job_id, available_at), kind_name, payload))
