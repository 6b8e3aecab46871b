"""Which jobs the relay publishes again because their message may be lost (``sweeps.stranded``),
and intake's one transparent retry of a write whose connection dropped, on the real database."""
from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text, update

from domain.db import unit_of_work, utcnow
from domain.jobs import batch, enqueueing, states, sweeps, transitions
from domain.jobs.kinds import catalog
from domain.jobs.models import Job, JobEvent, Outbox
from intake import group_commit
from intake.group_commit import GroupCommit
from tests.support.stack import Database


@pytest.fixture(scope="module")
def database():
    """A database of its own: no relay, worker or intake of the session's stack touches these
    jobs (they would publish, run or republish them under the test)."""
    db = Database().create()
    yield db
    db.drop()


@pytest.fixture
def db(database):
    from domain.db import session_factory

    return session_factory(database.url)


def _job(database, caller: str, state: str = states.QUEUED, age: float = 0, published: bool = True) -> str:
    """A ping job ``age`` seconds old in ``state``, its outbox row published or not."""
    with unit_of_work(database.url) as s:
        job, _ = enqueueing.enqueue(s, "ping", {"echo": caller}, caller=caller)
        job_id = job.id
        s.info.pop("publish", None)      # nothing is sent: this test reads rows only
    past = utcnow() - timedelta(seconds=age)
    with unit_of_work(database.url) as s:
        s.execute(update(Job).where(Job.id == job_id).values(state=state, updated_at=past))
        if published:
            s.execute(update(Outbox).where(Outbox.job_id == job_id).values(published_at=past))
    return job_id


def _stranded(database, queues=None) -> set[str]:
    with unit_of_work(database.url) as s:
        return {job.id for job in sweeps.stranded(s, queued_for=60, retry_overdue_for=120, queues=queues,
                                                   limit=10_000)}


def test_only_jobs_waiting_too_long_with_no_claim_and_no_pending_outbox_are_stranded(database):
    caller = f"stranded-{uuid.uuid4().hex[:8]}"
    # Given jobs in every situation
    old_queued = _job(database, caller, age=90)
    young_queued = _job(database, caller, age=10)
    old_unpublished = _job(database, caller, age=90, published=False)      # the relay's already
    overdue_retry = _job(database, caller, states.RETRYING, age=200)
    recent_retry = _job(database, caller, states.RETRYING, age=90)
    running = _job(database, caller, states.RUNNING, age=500)              # the reaper's (lease)
    succeeded = _job(database, caller, states.SUCCEEDED, age=500)
    # Then only the old queued one and the overdue retry are stranded
    found = _stranded(database)
    assert old_queued in found and overdue_retry in found
    assert not found & {young_queued, old_unpublished, recent_retry, running, succeeded}
    # and none of them while their queue still has messages waiting in the broker
    assert not _stranded(database, queues={"video"}) & {old_queued, overdue_retry}
    assert not _stranded(database, queues=set())


def test_republishing_a_stranded_job_adds_a_message_and_an_event_once_per_period(database):
    caller = f"stranded-{uuid.uuid4().hex[:8]}"
    job_id = _job(database, caller, age=90)
    # When the relay republishes stranded jobs
    with unit_of_work(database.url) as s:
        ids = sweeps.republish_stranded(s, 60, 120, limit=10_000)
        s.info.pop("publish", None)      # rows only: nothing is sent to the session's broker
    assert job_id in ids
    # Then the job is unchanged but has a new outbox row and a job.republished event
    with unit_of_work(database.url) as s:
        job = s.get(Job, job_id)
        assert job.state == states.QUEUED and job.attempts == 0
        assert s.scalar(select(func.count()).select_from(Outbox).where(Outbox.job_id == job_id)) == 2
        assert s.scalars(select(JobEvent.type).where(JobEvent.job_id == job_id)).all()[-1] == "job.republished"
    # And it is not stranded again until another period has passed
    assert job_id not in _stranded(database)


def test_an_operator_retry_republishes_waiting_jobs_and_refuses_running_ones(database):
    caller = f"stranded-{uuid.uuid4().hex[:8]}"
    queued, running = _job(database, caller, age=5), _job(database, caller, states.RUNNING, age=5)
    with unit_of_work(database.url) as s:
        assert transitions.operator_retry(s, s.get(Job, queued)) == "republished"
        s.info.pop("publish", None)
        try:
            transitions.operator_retry(s, s.get(Job, running))
        except transitions.NotRetryable as exc:
            assert "this one is running" in str(exc)
        else:
            raise AssertionError("a running job must not be retried by hand")


def test_a_write_whose_connection_drops_is_written_again_once(database, db, monkeypatch):
    caller = f"blip-{uuid.uuid4().hex[:8]}"
    real, calls = batch.enqueue_each, []

    def drop_first_connection(session, jobs):
        calls.append(1)
        if len(calls) == 1:      # the server ends this connection mid-transaction
            session.execute(text("SELECT pg_terminate_backend(pg_backend_pid())"))
        return real(session, jobs)

    monkeypatch.setattr(group_commit, "enqueue_each", drop_first_connection)
    job = batch.NewJob("ping", enqueueing.validate_payload(catalog().get("ping"), {"echo": "again"}), caller)
    # When the group commit writes a job and its connection is dropped the first time
    outcome = GroupCommit(database.url, max_batch=8).submit(job).result(timeout=30)
    # Then it was written again, once, and the caller got the job
    assert len(calls) == 2
    created_job, created = outcome
    assert created
    with db() as s:
        assert s.scalar(select(func.count()).select_from(Job).where(Job.caller == caller)) == 1
        assert s.get(Job, created_job.id).state == states.QUEUED
