"""The ping task body as a plain function: a real JobContext on a claimed job, no Celery."""
from __future__ import annotations

import pytest

from domain.db import session_factory
from domain.jobs.errors import JobCancelled, TransientError
from domain.jobs.models import Job
from tasks.ping import ping
from tests.support.context import job_context


def stored(url: str, job_id: str) -> Job:
    with session_factory(url)() as session:
        return session.get(Job, job_id)


def test_ping_returns_its_echo_and_the_attempt(database):
    ctx, payload = job_context(database.url, "ping", {"echo": "hello"})
    assert ping.body(ctx, payload)["echo"] == "hello"
    assert ping.body(ctx, payload)["attempt"] == 1


def test_a_transient_drill_raises_for_the_lifecycle_to_retry(database):
    ctx, payload = job_context(database.url, "ping", {"fail_transient_times": 1}, caller="system")
    with pytest.raises(TransientError):
        ping.body(ctx, payload)


def test_ping_stops_when_its_context_is_cancelled_mid_sleep(database):
    # Given a ping that would sleep 30 s, cancelled (as the lease keeper flags it) at its first report
    ctx, payload = job_context(database.url, "ping", {"sleep": 30})
    ctx.on_progress = lambda percent, message: ctx.cancel_event.set()
    # When the task body runs
    with pytest.raises(JobCancelled):
        ping.body(ctx, payload)
    # Then it stopped at its next check, after one progress report stored on the job
    row = stored(database.url, ctx.job_id)
    assert row.progress_message == "slept 1 of 30 s" and row.state == "running"


def test_a_run_that_lost_its_lease_is_stopped_the_same_way(database):
    ctx, payload = job_context(database.url, "ping", {"sleep": 30})
    ctx.lost_event.set()
    with pytest.raises(JobCancelled, match="lost the job's lease"):
        ping.body(ctx, payload)
