"""What the lifecycle writes, whichever path writes it: the ORM path (SQLite), the single-statement
path and the batch path (PostgreSQL) store the same event data, the data its one builder makes; and
a run that no longer holds the lease can make no transition for the job."""
from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select

from domain.db import session_factory, unit_of_work, utcnow
from domain.jobs import batch, enqueueing, leases, runs, states, transitions
from domain.jobs.errors import PermanentError, TransientError
from domain.jobs.models import Job, JobEvent
from domain.jobs.recording import queued_data, transition_data


@pytest.fixture
def url(db_url):
    return db_url


def later() -> dict:
    """Due in an hour: only this test claims the job, not a worker another test started."""
    return {"run_at": utcnow() + timedelta(hours=1)}


def events(url: str, job_id: str) -> list[tuple[str, dict]]:
    with session_factory(url)() as s:
        rows = s.scalars(select(JobEvent).where(JobEvent.job_id == job_id).order_by(JobEvent.id))
        return [(e.type, e.data) for e in rows]


def test_every_writer_stores_the_builders_event_data(url):
    caller = f"rows-{uuid.uuid4().hex[:8]}"
    with unit_of_work(url) as s:
        single, created = enqueueing.enqueue(s, "ping", {"echo": "one"}, caller=caller, **later())
        payload = enqueueing.validate_payload(enqueueing.job_kind("ping"), {"echo": "two"})
        item = batch.NewJob("ping", payload, caller, run_at=later()["run_at"])
        [(grouped, grouped_created)] = batch.enqueue_each(s, [item])
        single_id, grouped_id = single.id, grouped.id
    assert created and grouped_created
    assert events(url, grouped_id) == events(url, single_id)[:1] == [("job.queued", queued_data("ping"))]

    job, reason, _ = runs.claim(url, single_id, "w1", 30)
    assert reason == "claimed"
    assert runs.succeed(url, single_id, "w1", {"pong": True})[0]
    assert events(url, single_id) == [
        ("job.queued", queued_data("ping")),
        ("job.running", transition_data(states.RUNNING, 1)),
        ("job.succeeded", transition_data(states.SUCCEEDED, 1, result={"pong": True})),
    ]


def test_a_run_that_lost_its_lease_can_make_no_transition(url):
    with unit_of_work(url) as s:
        job, _ = enqueueing.enqueue(s, "ping", {}, **later())
        job_id = job.id
    assert runs.claim(url, job_id, "w1", 30)[1] == "claimed"
    stranger = "w2"
    with unit_of_work(url) as s:
        leases.set_progress(s, job_id, stranger, 50, "not mine")
        assert not transitions.fail(s, job_id, stranger, PermanentError("no"))
        assert not transitions.retrying(s, job_id, stranger, TransientError("no"), 1.0)
        assert not transitions.dead_letter(s, job_id, stranger, TransientError("no"))
        assert not transitions.mark_cancelled(s, job_id, stranger)
        assert not leases.succeed(s, job_id, stranger, {})
    with session_factory(url)() as s:
        row = s.get(Job, job_id)
        assert (row.state, row.lease_owner, row.progress) == (states.RUNNING, "w1", 0)
    with unit_of_work(url) as s:                # the holder still can
        assert transitions.fail(s, job_id, "w1", PermanentError("bad input", code="ping_failed"))
    with session_factory(url)() as s:
        row = s.get(Job, job_id)
        assert row.state == states.FAILED and row.error["code"] == "ping_failed" and row.lease_owner is None
