"""A real ``JobContext`` for calling a task body as a plain function (no Celery, no worker).

``ctx, payload = job_context(db_url, "grade_quiz", {...})`` enqueues a job of that kind (due in an
hour, so no worker of the session picks it up), claims it as a worker would, and returns the
context ``workers.base.execute`` would build with the payload parsed by the kind's model. Then
``tasks.grading.grade_quiz(ctx, payload)`` runs the task's own code against the test database.
"""
from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

from celeryconfig import settings
from domain.db import unit_of_work, utcnow
from domain.jobs import enqueueing, runs
from domain.jobs.kinds import catalog
from workers.context import JobContext


def job_context(db_url: str, kind: str, payload: dict, *, caller: str = "system") -> tuple[JobContext, Any]:
    with unit_of_work(db_url) as session:
        job, _ = enqueueing.enqueue(session, kind, payload, caller=caller, run_at=utcnow() + timedelta(hours=1))
        job_id = job.id
    owner = f"test:{secrets.token_hex(4)}"
    claimed, reason, _ = runs.claim(db_url, job_id, owner, settings.lease_seconds)
    assert reason == "claimed", f"job {job_id} was not claimed: {reason}"
    ctx = JobContext(job_id=claimed.id, kind=claimed.kind, owner=owner, attempt=claimed.attempts,
                     max_attempts=claimed.max_attempts, caller=claimed.caller, db_url=db_url)
    return ctx, catalog().kinds[kind].payload.model_validate(dict(claimed.payload))
