"""A bulk cancel does not skip a job whose row a worker holds at that moment (its heartbeat or a
progress write): it waits for the row, checks the filter again, and cancels it."""
from __future__ import annotations

import threading
import uuid
from datetime import timedelta

from sqlalchemy import select, text

from domain.db import get_engine, session_factory, unit_of_work, utcnow
from domain.jobs import enqueueing, ops, runs
from domain.jobs.models import Job
from tests.support.stack import wait_for


def test_a_bulk_cancel_waits_for_a_row_a_worker_holds_and_cancels_it(database):
    caller = f"bulk-{uuid.uuid4().hex[:8]}"
    with unit_of_work(database.url) as s:
        job, _ = enqueueing.enqueue(s, "ping", {}, caller=caller, run_at=utcnow() + timedelta(hours=1))
        job_id = job.id
    assert runs.claim(database.url, job_id, "w1", 300)[1] == "claimed"
    # Given a running job (due in an hour: no other test's worker takes it) whose row a worker's transaction holds
    holder = session_factory(database.url)()
    holder.execute(select(Job).where(Job.id == job_id).with_for_update()).one()
    outcome = {}
    bulk = threading.Thread(target=lambda: outcome.update(
        ops.bulk(database.url, ops.JobFilter(caller=caller), "cancel", dry_run=False)))
    # When an operator cancels in bulk while it does
    bulk.start()
    try:
        with get_engine(database.url).connect() as conn:
            wait_for(lambda: conn.execute(text("SELECT count(*) FROM pg_locks WHERE NOT granted "
                                               "AND locktype IN ('transactionid', 'tuple')")).scalar(),
                     timeout=30, message="the bulk cancel to wait for the held row")
    finally:
        holder.commit()
        holder.close()
    bulk.join(timeout=60)
    # Then the job is asked to stop rather than skipped
    assert outcome["matched"] == 1 and outcome["changed"] == 1, outcome
    with session_factory(database.url)() as s:
        assert s.get(Job, job_id).cancel_requested is True
