"""A run's own transitions (``domain.jobs.runs``) and the process's lease keeper, on PostgreSQL
(the prepared-statement path) and on SQLite (the Session path), against the same expectations."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import make_url, select, text
from sqlalchemy.exc import OperationalError

from domain.db import session_factory, unit_of_work, utcnow
from domain.jobs import enqueueing, runs, states
from domain.jobs.models import Job, JobEvent
from workers.context import JobContext, LeaseKeeper


@pytest.fixture
def url(db_url):
    return db_url


def queued(url: str, **payload) -> str:
    """A queued ping whose message is not published (due in an hour): only this test claims it,
    not the shared worker other tests start."""
    with unit_of_work(url) as s:
        job, _ = enqueueing.enqueue(s, "ping", payload, run_at=utcnow() + timedelta(hours=1))
        return job.id


def load(url: str, job_id: str) -> Job:
    with session_factory(url)() as s:
        return s.get(Job, job_id)


def types(url: str, job_id: str) -> list[str]:
    with session_factory(url)() as s:
        return list(s.scalars(select(JobEvent.type).where(JobEvent.job_id == job_id).order_by(JobEvent.id)))


def test_claim_then_succeed_records_both_transitions_and_their_events(url):
    job_id = queued(url, echo="x")
    job, reason, events = runs.claim(url, job_id, "w1", 30)
    assert reason == "claimed" and job.id == job_id and job.kind == "ping" and job.attempts == 1
    assert job.payload["echo"] == "x"
    row = load(url, job_id)
    assert row.state == states.RUNNING and row.lease_owner == "w1" and row.lease_expires_at is not None
    recorded, more = runs.succeed(url, job_id, "w1", {"pong": True})
    assert recorded
    row = load(url, job_id)
    assert row.state == states.SUCCEEDED and row.result == {"pong": True} and row.lease_owner is None
    assert types(url, job_id) == ["job.queued", "job.running", "job.succeeded"]
    if url.startswith("postgresql"):      # returned for the caller to publish, ids as stored
        assert [(e.type, e.data["state"]) for e in events + more] == [("job.running", "running"),
                                                                      ("job.succeeded", "succeeded")]
        with session_factory(url)() as s:
            stored = s.scalars(select(JobEvent.id).where(JobEvent.job_id == job_id).order_by(JobEvent.id)).all()
        assert [e.id for e in events + more] == stored[1:]
    else:                                 # the Session published its own after the commit
        assert events == [] and more == []


def test_a_second_claim_is_refused_while_the_lease_lives_and_a_stranger_cannot_succeed(url):
    job_id = queued(url)
    assert runs.claim(url, job_id, "w1", 30)[1] == "claimed"
    job, reason, _ = runs.claim(url, job_id, "w2", 30)
    assert job is None and reason == "leased"
    assert runs.succeed(url, job_id, "w2", {}) == (False, [])
    assert load(url, job_id).state == states.RUNNING


def test_a_cancel_asked_before_the_claim_ends_the_job_instead(url):
    job_id = queued(url)
    with unit_of_work(url) as s:
        s.get(Job, job_id).cancel_requested = True
    job, reason, _ = runs.claim(url, job_id, "w1", 30)
    assert job is None and reason == "cancelled" and load(url, job_id).state == states.CANCELLED


def test_an_expired_lease_is_claimed_again_by_the_next_delivery(url):
    job_id = queued(url)
    runs.claim(url, job_id, "w1", 30)
    with unit_of_work(url) as s:
        s.get(Job, job_id).lease_expires_at = utcnow() - timedelta(seconds=1)
    job, reason, _ = runs.claim(url, job_id, "w2", 30)
    assert reason == "claimed" and job.attempts == 2 and load(url, job_id).lease_owner == "w2"


def test_a_connection_broken_while_idle_is_replaced_and_the_statement_sent_again(database):
    # a long job's success comes minutes after its claim: the server may have dropped the session
    job_id = queued(database.url)
    conn = runs._connection(database.url)
    runs.claim(database.url, job_id, "w1", 30)
    first = conn.conn.info.backend_pid
    with unit_of_work(database.url) as s:       # the server ends that session under it
        s.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
    assert runs.succeed(database.url, job_id, "w1", {"after": "reconnect"})[0]
    assert conn.conn.info.backend_pid != first
    assert load(database.url, job_id).result == {"after": "reconnect"}


def test_a_database_that_cannot_be_reached_is_an_operational_error(database):
    from cli.services import free_port

    url = make_url(database.url).set(port=free_port()).render_as_string(hide_password=False)
    with pytest.raises(OperationalError):
        runs.claim(url, "no-such-job", "w1", 30)


def ctx_for(url: str, job_id: str, owner: str) -> JobContext:
    return JobContext(job_id=job_id, kind="ping", owner=owner, attempt=1, max_attempts=3, caller="system",
                      db_url=url)


def test_one_beat_renews_every_run_of_the_process_and_flags_cancelled_and_lost_ones(url):
    ids = [queued(url) for _ in range(3)]
    for job_id in ids:
        runs.claim(url, job_id, f"w-{job_id}", 30)
    soon = utcnow() + timedelta(seconds=1)
    with unit_of_work(url) as s:
        for job_id in ids:
            s.get(Job, job_id).lease_expires_at = soon
        s.get(Job, ids[1]).cancel_requested = True
        s.get(Job, ids[2]).lease_owner = "someone-else"       # this process lost that one
    keeper = LeaseKeeper()                                     # not started: one beat by hand
    ctxs = [ctx_for(url, job_id, f"w-{job_id}") for job_id in ids]
    for ctx in ctxs:
        keeper.add(ctx)
    keeper.beat()
    assert [c.cancel_event.is_set() for c in ctxs] == [False, True, False]
    assert [c.lost_event.is_set() for c in ctxs] == [False, False, True]
    leases = {job_id: load(url, job_id).lease_expires_at.replace(tzinfo=None) for job_id in ids}
    soon = soon.replace(tzinfo=None)
    assert leases[ids[0]] > soon and leases[ids[1]] > soon     # renewed (a cancelled run stops on its own)
    assert abs((leases[ids[2]] - soon).total_seconds()) < 0.01   # not ours: left alone
    # a run that ended is no longer renewed
    keeper.remove(ctxs[0])
    assert list(keeper.runs) == [c.owner for c in ctxs[1:]]
