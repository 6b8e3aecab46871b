"""Intake's group commit: jobs of concurrent requests share one transaction, yet each request
gets its own outcome (created, replayed, refused) and one bad request fails nobody else."""
from __future__ import annotations

import threading
import uuid
from concurrent.futures import Future

from sqlalchemy import func, select

from domain.db import unit_of_work
from domain.jobs import batch, enqueueing
from domain.jobs.errors import InvalidPayload
from domain.jobs.kinds import catalog
from domain.jobs.models import Job, JobEvent, Outbox
from intake.group_commit import GroupCommit


def _ping(caller: str, echo: str, key: str | None = None) -> batch.NewJob:
    return batch.NewJob("ping", enqueueing.validate_payload(catalog().get("ping"), {"echo": echo}), caller, key)


def _rows(db, caller: str) -> tuple[list[Job], int, int]:
    with db() as s:
        jobs = list(s.scalars(select(Job).where(Job.caller == caller)))
        ids = [j.id for j in jobs]
        outbox = s.scalar(select(func.count()).select_from(Outbox).where(Outbox.job_id.in_(ids)))
        queued = s.scalar(select(func.count()).select_from(JobEvent)
                          .where(JobEvent.job_id.in_(ids), JobEvent.type == "job.queued"))
    return jobs, outbox, queued


def test_one_batch_reports_each_jobs_own_outcome(db, database):
    caller, key = f"batch-{uuid.uuid4().hex[:8]}", "same-key"
    announce = catalog().get("announce")
    items = [
        _ping(caller, "a"),
        _ping(caller, "b", key),
        _ping(caller, "b", key),            # the same request again, in the same batch
        _ping(caller, "c", key),            # the same key for another request
        batch.NewJob("no-such-kind", {}, caller),
        batch.NewJob("announce", enqueueing.validate_payload(announce, {"course_id": "nope", "title": "t", "body": "b"}),
                     caller),               # its data check fails: no such course
    ]
    # When they are written in one transaction
    with unit_of_work(database.url) as s:
        out = batch.enqueue_each(s, items)
    # Then the first two are created, the repeat replays the second, the rest are refused each for its reason
    (a, a_new), (b, b_new), (b2, b2_new) = out[0], out[1], out[2]
    assert a_new and b_new and not b2_new and b2.id == b.id and a.id != b.id
    assert isinstance(out[3], enqueueing.IdempotencyConflict) and out[3].job_id == b.id
    assert isinstance(out[4], enqueueing.UnknownKind)
    assert isinstance(out[5], InvalidPayload)
    # And exactly two jobs exist, each with its outbox row and its job.queued event
    jobs, outbox, queued = _rows(db, caller)
    assert sorted(j.id for j in jobs) == sorted([a.id, b.id])
    assert outbox == 2 and queued == 2
    assert {j.payload["echo"] for j in jobs} == {"a", "b"} and all(j.state == "queued" for j in jobs)


def test_a_batch_the_database_refuses_is_written_one_job_at_a_time(db, database):
    caller = f"batch-{uuid.uuid4().hex[:8]}"
    writer = GroupCommit(database.url, max_batch=64)
    # Given a batch where one payload holds a NUL character, which PostgreSQL's jsonb refuses
    # (intake's validation refuses it first; here it is handed to the writer as if one got by)
    good = [_ping(caller, f"ok{i}") for i in range(4)]
    bad = batch.NewJob("ping", {**good[0].payload, "echo": "nul\u0000here"}, caller)
    pending = [(job, Future()) for job in good[:2] + [bad] + good[2:]]
    # When the writer writes it
    writer._write(pending)
    # Then the bad one gets the database's error and its neighbours are written all the same
    outcomes = [(job, done.exception() or done.result()) for job, done in pending]
    assert isinstance(outcomes[2][1], Exception)
    created = [result for job, result in outcomes if job is not bad]
    assert all(isinstance(r, tuple) and r[1] for r in created)
    jobs, outbox, queued = _rows(db, caller)
    assert sorted(j.payload["echo"] for j in jobs) == ["ok0", "ok1", "ok2", "ok3"]
    assert outbox == 4 and queued == 4


def test_concurrent_requests_with_one_key_share_one_job(db, database):
    caller = f"batch-{uuid.uuid4().hex[:8]}"
    writer = GroupCommit(database.url, max_batch=8)
    results: list = []
    lock = threading.Lock()
    start = threading.Barrier(24)

    def request(i: int) -> None:
        start.wait()
        # 16 requests repeat one keyed request, 8 are plain jobs of their own
        job = _ping(caller, "same", "one-key") if i < 16 else _ping(caller, f"own{i}")
        outcome = writer.submit(job).result(timeout=30)
        with lock:
            results.append((i, outcome))

    threads = [threading.Thread(target=request, args=(i,)) for i in range(24)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    keyed = [(job.id, created) for i, (job, created) in results if i < 16]
    assert len({job_id for job_id, _ in keyed}) == 1 and sum(created for _, created in keyed) == 1
    jobs, outbox, queued = _rows(db, caller)
    assert len(jobs) == 9 and outbox == 9 and queued == 9


def test_one_requests_jobs_are_never_split_across_transactions(db, database):
    caller = f"batch-{uuid.uuid4().hex[:8]}"
    writer = GroupCommit(database.url, max_batch=4)
    # Given one request's ten jobs, more than the writer's batch size
    futures = writer.submit_many([_ping(caller, f"m{i}") for i in range(10)])
    # When the writer has written them
    outcomes = [f.result(timeout=30) for f in futures]
    # Then all were created by one transaction: one statement, one timestamp
    assert all(created for _, created in outcomes)
    jobs, outbox, queued = _rows(db, caller)
    assert len(jobs) == outbox == queued == 10
    assert len({j.created_at for j in jobs}) == 1
