"""The periodic queries that keep every job moving: outbox rows to publish, runs whose worker
died (expired leases), and waiting jobs whose message was lost (stranded).

Each locks the rows it returns with ``SKIP LOCKED``, so two relays or reapers share the work
and a worker finishing one of those jobs at that moment is not blocked.
"""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from domain.db import utcnow
from domain.jobs import states
from domain.jobs.models import Job, Outbox
from domain.jobs.recording import add_outbox
from domain.jobs.transitions import dead_letter_lost, republish, set_state


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
            set_state(session, job, states.CANCELLED, {"reason": "cancelled; worker lost"})
        elif job.attempts >= job.max_attempts:
            dead_letter_lost(session, job)
        else:
            job.lease_owner = None
            job.lease_expires_at = None
            set_state(session, job, states.QUEUED, {"reason": "lease expired: worker lost"})
            add_outbox(session, job.id, job.kind, now, job.payload)
    return touched


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
