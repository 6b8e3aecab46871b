"""Jobs are published right after the commit that wrote them (any session: intake, worker
sub-jobs, CLI), their outbox rows marked in a batch a moment later; the relay only picks up
what that missed."""
from __future__ import annotations

import threading
from datetime import timedelta

from sqlalchemy import select

from domain.db import unit_of_work, utcnow
from domain.jobs import enqueueing, sweeps
from domain.jobs.models import Outbox
from tests.support.jobs import wait_job
from workers import dispatch, events, relay


def _outbox(db, job_id: str) -> Outbox:
    with db() as s:
        return s.scalars(select(Outbox).where(Outbox.job_id == job_id)).one()


def test_a_job_enqueued_in_any_session_is_sent_after_commit_and_marked_in_a_batch(api, db, database):
    events.install()
    # Given a job enqueued from plain Python (as a worker's sub-job or a CLI would)
    with unit_of_work(database.url) as s:
        job, created = enqueueing.enqueue(s, "ping", {"echo": "after-commit"}, caller="system")
        job_id = job.id
    assert created
    # Then the commit handed it to the process's dispatcher, which sends it off the committing
    # thread: once sent, its outbox id waits in the batch of rows to mark
    assert dispatch.dispatcher().flush()
    row = _outbox(db, job_id)
    pending = [i for ids in relay.marks.pending.values() for i in ids]
    assert row.id in pending
    # When the batch is flushed, the row is marked, so the relay has nothing to send again
    relay.marks.flush()
    assert _outbox(db, job_id).published_at is not None
    with unit_of_work(database.url) as s:
        assert row.id not in [r.id for r in sweeps.due_outbox(s, grace_seconds=0)]
    # And the worker runs it
    assert wait_job(api, job_id, timeout=30)["state"] == "succeeded"


def test_a_job_due_later_or_rolled_back_is_not_sent(db, database):
    events.install()
    # Given a job due in an hour, and a job whose transaction is rolled back
    with unit_of_work(database.url) as s:
        later, _ = enqueueing.enqueue(s, "ping", {"echo": "later"}, run_at=utcnow() + timedelta(hours=1))
        later_id = later.id
    try:
        with unit_of_work(database.url) as s:
            gone, _ = enqueueing.enqueue(s, "ping", {"echo": "rolled back"})
            gone_id = gone.id
            raise RuntimeError("roll back")
    except RuntimeError:
        pass
    # Then neither was sent: the later one waits unpublished for the relay, the other never existed
    assert dispatch.dispatcher().flush()
    row = _outbox(db, later_id)
    assert row.id not in [i for ids in relay.marks.pending.values() for i in ids]
    relay.marks.flush()
    assert _outbox(db, later_id).published_at is None
    with db() as s:
        assert s.scalars(select(Outbox).where(Outbox.job_id == gone_id)).first() is None


def test_concurrent_requests_with_one_idempotency_key_make_one_job(db, database):
    # Given eight sessions enqueueing the same request with the same caller and key at once
    barrier, results, errors = threading.Barrier(8), [], []

    def one():
        try:
            with unit_of_work(database.url) as s:
                barrier.wait()
                job, created = enqueueing.enqueue(s, "ping", {"echo": "k"}, caller="race", idempotency_key="k-1")
                results.append((job.id, created))
        except Exception as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=one) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # Then exactly one job was created and every request got its id
    assert not errors, errors
    assert sum(created for _, created in results) == 1
    assert len({job_id for job_id, _ in results}) == 1
    # And a different request with the same key is a conflict naming that job
    try:
        with unit_of_work(database.url) as s:
            enqueueing.enqueue(s, "ping", {"echo": "other"}, caller="race", idempotency_key="k-1")
    except enqueueing.IdempotencyConflict as exc:
        assert exc.job_id == results[0][0]
    else:
        raise AssertionError("a different request with a used key must conflict")
