"""Housekeeping run by beat: outbox relay sweep, stuck-job reaper, old job clean-up."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, select

from celeryconfig import settings
from domain.db import unit_of_work, utcnow
from domain.jobs import states
from domain.jobs.models import Job, JobEvent
from workers.app import app
from workers import relay


@app.task(name="tasks.maintenance.relay_outbox", queue="maintenance", acks_late=False)
def relay_outbox() -> dict:
    """Publish due/unpublished jobs and requeue jobs whose worker died (lease expired)."""
    return relay.relay_once()


@app.task(name="tasks.maintenance.purge_old_jobs", queue="maintenance", acks_late=False)
def purge_old_jobs(batch: int = 1000) -> dict:
    """Delete finished jobs (and their events) older than the retention period, a batch at a time."""
    cutoff = utcnow() - timedelta(days=settings.job_retention_days)
    with unit_of_work(settings.database_url) as session:
        ids = list(session.scalars(select(Job.id).where(Job.state.in_(states.TERMINAL), Job.finished_at < cutoff)
                                   .limit(batch)))
        if ids:
            session.execute(delete(JobEvent).where(JobEvent.job_id.in_(ids)))
            session.execute(delete(Job).where(Job.id.in_(ids)))
    return {"deleted": len(ids)}
