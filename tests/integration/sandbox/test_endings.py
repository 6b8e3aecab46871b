"""A submission whose evaluate job ends without a grade ends too: ``cancelled`` or ``error``,
never left ``queued``/``running`` (worker, intake and reaper paths)."""
from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from cli.services import ROOT
from domain.db import utcnow
from domain.jobs import enqueueing, sweeps
from domain.jobs.models import Job, Outbox
from celeryconfig import settings
from domain.sandbox import submissions
from domain.sandbox.errors import SandboxUnavailable
from domain.sandbox.models import Submission, SubmissionStatus
from tests.integration.sandbox.test_flow import SUM, _fixtures, _submit
from tests.support.jobs import wait_job


def _stored_status(db, submission_id: str) -> str:
    with db() as s:
        return s.get(Submission, submission_id).status.value


def _queued_submission(db, f: dict) -> tuple[str, str]:
    """A submission and its evaluate job written by the web tier (not published by us)."""
    with db.begin() as s:
        sub = submissions.create(s, exercise_id=f["exercise_id"], user_id=f["user_id"], language="python", code=SUM)
        job, _ = enqueueing.enqueue(s, "evaluate", {"submission_id": sub.id})
        sub.job_id = job.id
        s.info.pop("publish", None)   # not sent after this commit even where the hook is installed
        return sub.id, job.id


def test_cancelling_a_running_evaluation_ends_the_submission_cancelled(api, db):
    # Given a submission being evaluated by the worker (each case sleeps until its wall clock)
    f = _fixtures(db, linked=False)
    out = _submit(api, f, "import time\ntime.sleep(600)\n")
    job_id, sub_id = out["job"]["id"], out["submission"]["id"]
    wait_job(api, job_id, timeout=90, states={"running"})
    # When the job is cancelled through the API
    assert api.post(f"/v1/jobs/{job_id}/cancel").status_code == 202
    job = wait_job(api, job_id, timeout=90)
    # Then the job is cancelled and the worker stored the submission as cancelled (no GET needed)
    assert job["state"] == "cancelled"
    assert _stored_status(db, sub_id) == "cancelled"
    body = api.get(f"/v1/submissions/{sub_id}").json()["submission"]
    assert body["status"] == "cancelled" and "cancelled" in body["feedback"] and body["score"] is None


def test_a_job_cancelled_before_it_ran_leaves_a_cancelled_submission(api, db):
    # Given a queued submission whose job is cancelled before any worker ran it
    f = _fixtures(db, linked=False)
    sub_id, job_id = _queued_submission(db, f)
    assert api.post(f"/v1/jobs/{job_id}/cancel").status_code == 202
    assert wait_job(api, job_id, timeout=30)["state"] == "cancelled"
    # Then the cancel itself ended the submission (the kind's on_end hook, same transaction)
    assert _stored_status(db, sub_id) == "cancelled"
    # When the submission is read
    body = api.get(f"/v1/submissions/{sub_id}").json()["submission"]
    # Then it is cancelled, and stored so for the web tier too
    assert body["status"] == "cancelled"
    assert _stored_status(db, sub_id) == "cancelled"


def test_a_job_dead_lettered_after_its_worker_was_lost_leaves_an_error_submission(api, db):
    # Given a submission whose job was running on a worker that died on its last delivery
    f = _fixtures(db, linked=False)
    sub_id, job_id = _queued_submission(db, f)
    with db.begin() as s:
        job = s.get(Job, job_id)
        job.state, job.attempts, job.lease_owner = "running", job.max_attempts, "lost-worker"
        job.lease_expires_at = utcnow() - timedelta(seconds=60)
        s.get(Submission, sub_id).status = SubmissionStatus.running
        for row in s.scalars(select(Outbox).where(Outbox.job_id == job_id)):
            row.published_at = utcnow()
    # When the reaper (or a late delivery's claim) dead-letters it
    with db.begin() as s:
        sweeps.reap_expired(s)
    assert wait_job(api, job_id, timeout=30)["state"] == "dead_lettered"
    # Then the reaper's transition ended the submission too, before anyone read it
    assert _stored_status(db, sub_id) == "error"
    # And reading the submission shows a terminal error, not "running"
    body = api.get(f"/v1/submissions/{sub_id}").json()["submission"]
    assert body["status"] == "error" and "could not be graded" in body["feedback"]
    assert _stored_status(db, sub_id) == "error"


@pytest.mark.parametrize("last_attempt, status", [(True, "error"), (False, "running")])
def test_an_unavailable_sandbox_ends_the_submission_only_on_the_last_attempt(db, tmp_path, monkeypatch,
                                                                            last_attempt, status):
    from tasks.sandbox import evaluate
    from workers.base import execute
    from workers.outcomes import JobDeadLettered

    # Given a worker whose sandbox cannot start (bwrap missing), and a queued evaluate job
    monkeypatch.setattr(settings, "sandbox_bwrap", "/nonexistent/bwrap")
    monkeypatch.setattr(settings, "sandbox_work_dir", str(tmp_path))
    f = _fixtures(db, linked=False)
    sub_id, job_id = _queued_submission(db, f)
    with db.begin() as s:   # nobody else delivers it; on the last attempt it has one delivery left
        s.execute(update(Outbox).where(Outbox.job_id == job_id).values(published_at=utcnow()))
        job = s.get(Job, job_id)
        job.attempts = job.max_attempts - 1 if last_attempt else 0
    # When that worker runs the job through the lifecycle
    if last_attempt:
        with pytest.raises(JobDeadLettered):   # the task ends as FAILURE, after the job's state is stored
            execute(evaluate, job_id)
    else:
        with pytest.raises(SandboxUnavailable):   # a direct call re-raises what Celery would retry
            execute(evaluate, job_id)
    # Then the submission ends in error when no retry is left, and stays running while one is
    with db() as s:
        assert s.get(Job, job_id).state == ("dead_lettered" if last_attempt else "retrying")
    assert _stored_status(db, sub_id) == status


def test_a_graded_submission_is_never_settled(api, db):
    f = _fixtures(db, linked=False)
    out = _submit(api, f, SUM)
    assert wait_job(api, out["job"]["id"], timeout=90)["state"] == "succeeded"
    with db.begin() as s:
        assert submissions.settle(s, out["submission"]["id"], "cancelled") is False
    assert _stored_status(db, out["submission"]["id"]) == "graded"


def test_the_settle_command_ends_submissions_of_cancelled_jobs(stack, db):
    # Given a queued submission whose job was ended out of band (a direct UPDATE, or by a version
    # without the on_end hook), so no transition ended the submission
    f = _fixtures(db, linked=False)
    sub_id, job_id = _queued_submission(db, f)
    with db.begin() as s:
        s.execute(update(Job).where(Job.id == job_id).values(state="cancelled", cancel_requested=True))
    assert _stored_status(db, sub_id) == "queued"
    # When an operator runs `coursework sandbox settle`
    out = subprocess.run([sys.executable, "-m", "cli.main", "sandbox", "settle"], env=stack.env(), cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    # Then the submission is stored as cancelled and reported
    assert out.returncode == 0, out.stdout + out.stderr
    assert sub_id in json.loads(out.stdout)["settled"]
    assert _stored_status(db, sub_id) == "cancelled"
