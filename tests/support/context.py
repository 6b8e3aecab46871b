"""A real ``JobContext`` for calling a task body as a plain function (no Celery, no worker).

``ctx, payload = job_context(db_url, "grade_quiz", {...})`` enqueues a job of that kind (due in an
hour, so no worker of the session picks it up), claims it as a worker would (for an hour, so no
reaper takes it back), and returns the context ``workers.base.execute`` would build with the
payload parsed by the kind's model. Then
``tasks.grading.grade_quiz(ctx, payload)`` runs the task's own code against the test database.
"""
from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

from domain.db import unit_of_work, utcnow
from domain.jobs import enqueueing, runs
from domain.jobs.kinds import catalog
from workers.context import JobContext

LEASE_SECONDS = 3600


def job_context(db_url: str, kind: str, payload: dict, *, caller: str = "system") -> tuple[JobContext, Any]:
    with unit_of_work(db_url) as session:
        job, _ = enqueueing.enqueue(session, kind, payload, caller=caller, run_at=utcnow() + timedelta(hours=1))
        job_id = job.id
    owner = f"test:{secrets.token_hex(4)}"
    # a lease longer than the session: the reaper would otherwise hand the job, once the test's
    # lease ran out, to the session's shared worker (a "sleep 30" ping held both its slots)
    claimed, reason, _ = runs.claim(db_url, job_id, owner, LEASE_SECONDS)
    assert reason == "claimed", f"job {job_id} was not claimed: {reason}"
    ctx = JobContext(job_id=claimed.id, kind=claimed.kind, owner=owner, attempt=claimed.attempts,
                     max_attempts=claimed.max_attempts, caller=claimed.caller, db_url=db_url)
    return ctx, catalog().kinds[kind].payload.model_validate(dict(claimed.payload))
