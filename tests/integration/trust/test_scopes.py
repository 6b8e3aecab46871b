"""Least privilege: a family's write scope opens that family only; system jobs, ping drills and
tracebacks are for operators."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import httpx
import pytest
from sqlalchemy import update

from domain.db import unit_of_work
from domain.jobs import enqueueing
from domain.jobs.models import Job

TOMORROW = datetime.now(timezone.utc) + timedelta(days=1)


@pytest.fixture(scope="module")
def as_key(stack, intake):
    def client(scopes: str) -> httpx.Client:
        key = stack.create_key(scopes, name=f"scopes-{scopes}")
        return httpx.Client(base_url=intake, timeout=30, headers={"Authorization": f"Bearer {key}"})

    return client


def test_a_video_key_cannot_write_gradebooks_or_submit_code(as_key):
    with as_key("enqueue:video,read") as c:
        r = c.post("/v1/jobs", json={"kind": "regrade_course", "payload": {"course_id": "c1"}})
        assert r.status_code == 403 and "enqueue:grading" in r.json()["error"]["message"]
        r = c.post("/v1/submissions", json={"exercise_id": "e1", "user_id": "u1", "language": "python",
                                            "code": "print(1)"})
        assert r.status_code == 403
        r = c.post("/v1/events", json={"events": []})
        assert r.status_code == 403
        # its own family is open (the payload then fails on the missing asset, not on scope)
        r = c.post("/v1/jobs", json={"kind": "transcode", "payload": {"asset_id": "nope"}})
        assert r.status_code == 422, r.text


def test_ping_drills_need_operate(as_key):
    with as_key("enqueue,read") as c:
        assert c.post("/v1/jobs", json={"kind": "ping", "payload": {"echo": "hi"}}).status_code == 202
        for drill in ({"sleep": 5}, {"crash_worker": True}, {"fail_permanent": True}, {"fail_transient_times": 1}):
            r = c.post("/v1/jobs", json={"kind": "ping", "payload": drill})
            assert r.status_code == 403 and "operate" in r.json()["error"]["message"], (drill, r.text)


def test_system_jobs_and_tracebacks_are_for_operators(as_key, database):
    with unit_of_work(database.url) as s:
        # due tomorrow: no worker touches it while the test looks at it
        job, _ = enqueueing.enqueue(s, "ping", {"echo": "reaction"}, caller="system", run_at=TOMORROW)
        job_id = job.id
        s.execute(update(Job).where(Job.id == job_id).values(
            error={"code": "boom", "message": "failed", "traceback": "Traceback: secret internals"}))
    with as_key("enqueue,read") as c:
        assert c.get(f"/v1/jobs/{job_id}").status_code == 404
        assert c.post(f"/v1/jobs/{job_id}/cancel").status_code == 404
    with as_key("read,operate") as ops:
        seen = ops.get(f"/v1/jobs/{job_id}").json()["job"]
        assert seen["error"]["traceback"].startswith("Traceback")


def test_tracebacks_of_own_jobs_are_hidden_without_operate(as_key, database):
    with as_key("enqueue,read") as c:
        job_id = c.post("/v1/jobs", json={"kind": "ping", "payload": {"echo": "mine"},
                                          "run_at": TOMORROW.isoformat()}).json()["job"]["id"]
        with unit_of_work(database.url) as s:
            s.execute(update(Job).where(Job.id == job_id).values(
                error={"code": "boom", "message": "failed", "traceback": "Traceback: internals"}))
        seen = c.get(f"/v1/jobs/{job_id}").json()["job"]
        assert seen["error"] == {"code": "boom", "message": "failed"}
        listed = [j for j in c.get("/v1/jobs").json()["jobs"] if j["id"] == job_id]
        assert listed and "traceback" not in listed[0]["error"]
