"""Tasks of the analytics family: ingest a batch, roll up, report; plus the beat ticks."""
from __future__ import annotations

from datetime import datetime, timezone
from functools import partial

from celeryconfig import settings
from domain.analytics import digest, ingest, reminders, report, rollup
from domain.db import unit_of_work
from workers.app import app
from workers.base import job_task


@job_task("ingest_events")
def ingest_events(ctx, payload):
    with ctx.uow() as session:
        return ingest.ingest(session, payload.events)


@job_task("rollup")
def run_rollup(ctx, payload):
    return rollup.run(ctx.uow, full=payload.full, trending_days=ctx.settings.trending_window_days)


@job_task("report")
def make_report(ctx, payload):
    with ctx.uow() as session:
        return report.write(ctx.storage, ctx.job_id, session, payload)


# --- beat ticks (plain tasks: a missed or doubled run is harmless) ------------------------

@app.task(name="tasks.analytics.rollup_tick", queue="analytics", acks_late=False, ignore_result=True)
def rollup_tick() -> dict:
    """Fold what arrived since the watermark; skipped when another rollup holds the lock."""
    return rollup.run(partial(unit_of_work, settings.database_url), trending_days=settings.trending_window_days,
                      skip_if_busy=True)


@app.task(name="tasks.analytics.daily_learner_digest", queue="analytics", acks_late=False, ignore_result=True)
def daily_learner_digest() -> dict:
    at = digest.parse_local_time(settings.analytics_digest_local_time)
    with unit_of_work(settings.database_url) as session:
        sent = digest.send_due(session, datetime.now(timezone.utc), at, batch=settings.analytics_digest_batch)
    return {"sent": len(sent)}


@app.task(name="tasks.analytics.due_date_reminders", queue="analytics", acks_late=False, ignore_result=True)
def due_date_reminders() -> dict:
    with unit_of_work(settings.database_url) as session:
        return reminders.due_date_reminders(session, datetime.now(timezone.utc))
