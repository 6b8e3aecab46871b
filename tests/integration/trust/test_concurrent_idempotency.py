"""The same idempotent request sent many times at once: every answer is the same, one row.

Each family endpoint that takes an ``Idempotency-Key`` is hit by 20 identical concurrent
requests; all get the same status and the same ids, and the database holds one of each."""
from __future__ import annotations

import secrets
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from sqlalchemy import func, select

from domain.core.models import User
from domain.jobs.models import Job
from domain.sandbox import submissions
from domain.sandbox.models import Submission

N = 20


@pytest.fixture(scope="module")
def post(intake, api_key):
    def send(path: str, body: dict, key: str) -> list[httpx.Response]:
        def one(_):
            with httpx.Client(base_url=intake, timeout=60,
                              headers={"Authorization": f"Bearer {api_key}", "Idempotency-Key": key}) as c:
                return c.post(path, json=body)

        with ThreadPoolExecutor(N) as pool:
            return list(pool.map(one, range(N)))

    return send


def _same_answer(responses: list[httpx.Response], status: int) -> list[dict]:
    codes = [r.status_code for r in responses]
    assert codes == [status] * N, [(r.status_code, r.text[:200]) for r in responses if r.status_code != status]
    return [r.json() for r in responses]


def test_20_concurrent_identical_submissions_make_one(post, db, worker):
    tag = secrets.token_hex(4)
    with db.begin() as s:
        user = User(email=f"conc-{tag}@example.test", name="Learner")
        s.add(user)
        s.flush()
        ex = submissions.create_exercise(s, title="Echo", languages=["python"], time_limit_ms=2000,
                                         memory_limit_mb=64, cases=[{"stdin": "1\n", "expected_stdout": "1\n"}])
        user_id, exercise_id = user.id, ex.id
    body = {"exercise_id": exercise_id, "user_id": user_id, "language": "python", "code": "print(input())\n"}
    outs = _same_answer(post("/v1/submissions", body, f"sub-{tag}"), 202)
    assert len({o["submission"]["id"] for o in outs}) == 1 and len({o["job"]["id"] for o in outs}) == 1
    with db() as s:
        assert s.scalar(select(func.count()).select_from(Submission).where(Submission.user_id == user_id)) == 1


def test_20_concurrent_identical_jobs_make_one(post, db):
    tag = secrets.token_hex(4)
    outs = _same_answer(post("/v1/jobs", {"kind": "ping", "payload": {"echo": tag}}, f"ping-{tag}"), 202)
    assert len({o["job"]["id"] for o in outs}) == 1
    with db() as s:
        assert s.scalar(select(func.count()).select_from(Job).where(Job.idempotency_key == f"ping-{tag}")) == 1


def test_20_concurrent_identical_event_batches_make_one_job(post, db):
    tag = secrets.token_hex(4)
    event = {"event_id": f"e-{tag}", "type": "login", "user_id": f"u{tag}", "occurred_at": "2024-01-01T00:00:00Z"}
    responses = post("/v1/events", {"events": [event]}, f"events-{tag}")
    status = responses[0].status_code
    assert status == 202, responses[0].text
    _same_answer(responses, status)
    with db() as s:
        assert s.scalar(select(func.count()).select_from(Job).where(Job.idempotency_key == f"events-{tag}")) == 1


def test_20_concurrent_identical_tutor_messages_make_one_turn(post, db, database, api, worker):
    from domain.tutor.models import TutorMessage
    from tests.integration.tutor.conftest import make_course
    from tests.unit.tutor.course_fixture import LESSONS

    course = make_course(database.url, LESSONS)
    r = api.post("/v1/tutor/sessions", json={"user_id": course["user_id"], "course_id": course["course_id"]})
    assert r.status_code == 201, r.text
    session_id = r.json()["session"]["id"]
    tag = secrets.token_hex(4)
    outs = _same_answer(post(f"/v1/tutor/sessions/{session_id}/messages", {"content": "What is a JOIN?"},
                             f"ask-{tag}"), 202)
    assert len({o["job"]["id"] for o in outs}) == 1
    with db() as s:
        assert s.scalar(select(func.count()).select_from(TutorMessage)
                        .where(TutorMessage.session_id == session_id, TutorMessage.role == "user")) == 1


def test_20_concurrent_identical_batches_make_one_set_of_jobs(post, db):
    tag = secrets.token_hex(4)
    body = {"jobs": [{"kind": "ping", "payload": {"echo": f"{tag}-{i}"}, "idempotency_key": f"b-{tag}-{i}"}
                     for i in range(3)]}
    responses = post("/v1/jobs/batch", body, f"batch-{tag}")
    status = responses[0].status_code
    assert status in (200, 202, 207), responses[0].text
    outs = _same_answer(responses, status)
    ids = {tuple(sorted(item["job"]["id"] for item in o["items"] if item.get("job"))) for o in outs}
    assert len(ids) == 1 and len(next(iter(ids))) == 3
    with db() as s:
        assert s.scalar(select(func.count()).select_from(Job).where(Job.idempotency_key.like(f"b-{tag}-%"))) == 3
