"""End to end: submissions through the HTTP intake, a real worker, the real sandbox, PostgreSQL."""
from __future__ import annotations

import secrets
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import func, select

from domain.core.models import Course, Lesson, LessonType, Module, User
from domain.db import utcnow
from domain.jobs.models import Job, JobEvent
from domain.sandbox import flow, submissions
from domain.sandbox.kinds import EvaluatePayload
from domain.sandbox.models import ExerciseProgress, Submission
from tests.support.jobs import run_job, wait_job

SUM = "print(sum(map(int, input().split())))\n"


def _fixtures(db, *, linked: bool = True, memory_limit_mb: int = 64) -> dict:
    tag = secrets.token_hex(4)
    with db.begin() as s:
        user = User(email=f"learner-{tag}@example.test", name="Learner")
        s.add(user)
        lesson_id = course_id = None
        if linked:
            course = Course(slug=f"c-{tag}", title="Course")
            module = Module(course=course, title="M1", position=1)
            lesson = Lesson(module=module, title="Sums", position=1, type=LessonType.code_exercise)
            s.add_all([course, module, lesson])
            s.flush()
            lesson_id, course_id = lesson.id, course.id
        s.flush()
        ex = submissions.create_exercise(
            s, title="Sum two numbers", languages=["python", "c"], lesson_id=lesson_id, time_limit_ms=2000,
            memory_limit_mb=memory_limit_mb, reference_language="python", reference_solution=SUM,
            cases=[{"stdin": "1 2\n", "expected_stdout": "3\n"},
                   {"stdin": "40 2\n", "expected_stdout": "42\n"},
                   {"stdin": "7 0\n", "expected_stdout": "7\n", "hidden": True,
                    "weight": 2}])
        return {"user_id": user.id, "exercise_id": ex.id, "lesson_id": lesson_id, "course_id": course_id}


def _submit(api, f, code, language="python", **headers):
    r = api.post("/v1/submissions", json={"exercise_id": f["exercise_id"], "user_id": f["user_id"],
                                          "language": language, "code": code}, headers=headers)
    assert r.status_code == 202, r.text
    return r.json()


def test_a_correct_submission_is_graded_and_progress_and_event_recorded(api, db):
    # Given an exercise linked to a lesson and a learner
    f = _fixtures(db)
    # When the learner submits a correct solution
    out = _submit(api, f, SUM)
    assert out["submission"]["status"] == "queued"
    job = wait_job(api, out["job"]["id"], timeout=90)
    # Then the job succeeded and the submission is graded 100 with a verdict per case
    assert job["state"] == "succeeded", job
    sub = api.get(f"/v1/submissions/{out['submission']['id']}").json()["submission"]
    assert sub["status"] == "graded" and sub["verdict"] == "AC" and sub["score"] == 100 and sub["attempt"] == 1
    assert [c["verdict"] for c in sub["results"]] == ["AC", "AC", "AC"]
    assert all(c["memory_kb"] > 0 for c in sub["results"] if not c["hidden"])
    # And a hidden case shows its verdict only: no time, memory or exit detail
    assert [(c["time_ms"], c["memory_kb"], c["detail"]) for c in sub["results"] if c["hidden"]] == [(None, None, "")]
    with db() as s:
        progress = s.scalar(select(ExerciseProgress).where(ExerciseProgress.user_id == f["user_id"]))
        assert (progress.attempts, progress.best_score) == (1, 100) and progress.completed_at is not None
        event = s.scalar(select(JobEvent).where(JobEvent.job_id == job["id"], JobEvent.type == "submission.evaluated"))
    # And submission.evaluated carries the course and lesson so grading can record the score
    assert event.user_id == f["user_id"]
    assert event.data == {"user_id": f["user_id"], "exercise_id": f["exercise_id"], "submission_id": sub["id"],
                          "course_id": f["course_id"], "lesson_id": f["lesson_id"], "score": 100, "attempt": 1,
                          "verdict": "AC"}


def test_feedback_shows_a_visible_failure_but_never_a_hidden_case(api, db):
    f = _fixtures(db, linked=False)
    # a solution that is right on the visible cases only
    code = "a, b = map(int, input().split())\nprint(a + b if b else -1)\n"
    out = _submit(api, f, code)
    wait_job(api, out["job"]["id"], timeout=90)
    sub = api.get(f"/v1/submissions/{out['submission']['id']}").json()["submission"]
    assert sub["score"] == 50 and sub["verdict"] == "WA"     # weights 1 + 1 of 4
    assert "Hidden tests failed: 3 (Wrong Answer)" in sub["feedback"]
    assert "7 0" not in sub["feedback"] and "-1" not in sub["feedback"]
    # a visible failure is shown with its diff
    out = _submit(api, f, "print(0)\n")
    wait_job(api, out["job"]["id"], timeout=90)
    sub = api.get(f"/v1/submissions/{out['submission']['id']}").json()["submission"]
    assert "Test 1: Wrong Answer" in sub["feedback"] and "-3" in sub["feedback"] and "+0" in sub["feedback"]
    # and the learner's view of the exercise hides the hidden case and the reference solution
    ex = api.get(f"/v1/exercises/{f['exercise_id']}").json()["exercise"]
    assert ex["hidden_cases"] == 1 and len(ex["examples"]) == 2 and "reference_solution" not in ex


def test_compile_error_through_a_job_with_code_in_the_payload(api, db):
    f = _fixtures(db, linked=False)
    job = run_job(api, "evaluate", {"exercise_id": f["exercise_id"], "user_id": f["user_id"], "language": "c",
                                    "code": "int main( { return 0; }"}, timeout=90)
    assert job["state"] == "succeeded", job
    assert job["result"]["verdict"] == "CE" and job["result"]["score"] == 0
    with db() as s:
        sub = s.get(Submission, job["result"]["submission_id"])
        assert "error" in sub.compile_output and sub.job_id == job["id"]


def test_bad_input_is_refused_at_intake_before_anything_is_enqueued(api, db):
    f = _fixtures(db, linked=False)
    # (only evaluate jobs created from now on count: earlier tests' reactions may still add others)
    def evaluate_jobs() -> int:
        with db() as s:
            return s.scalar(select(func.count()).select_from(Job).where(Job.kind == "evaluate",
                                                                        Job.created_at >= started))

    started = utcnow()
    cases = [
        ({"exercise_id": "nope", "user_id": f["user_id"], "language": "python", "code": "x"}, "exercise_id"),
        ({"exercise_id": f["exercise_id"], "user_id": f["user_id"], "language": "javascript", "code": "x"},
         "language"),
        ({"exercise_id": f["exercise_id"], "user_id": "ghost", "language": "python", "code": "x"}, "user_id"),
    ]
    for body, field in cases:
        r = api.post("/v1/submissions", json=body)
        assert r.status_code == 422 and r.json()["error"]["details"][0]["field"] == field, r.text
        r = api.post("/v1/jobs", json={"kind": "evaluate", "payload": body})
        assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_payload", r.text
    r = api.post("/v1/submissions", json={**cases[0][0], "language": "ruby"})
    assert r.status_code == 422 and r.json()["error"]["details"][0]["field"] == "language"
    r = api.post("/v1/jobs", json={"kind": "evaluate", "payload": {"submission_id": "missing"}})
    assert r.status_code == 422 and r.json()["error"]["details"][0]["field"] == "submission_id"
    r = api.post("/v1/jobs", json={"kind": "evaluate", "payload": {"submission_id": "x", "code": "y"}})
    assert r.status_code == 422 and r.json()["error"]["details"][0]["field"].startswith("payload")
    assert evaluate_jobs() == 0


def test_a_second_delivery_does_not_grade_or_count_twice(api, db, database):
    # Given a submission graded by the worker
    f = _fixtures(db, linked=False)
    out = _submit(api, f, SUM, **{"Idempotency-Key": "sub-once"})
    job = wait_job(api, out["job"]["id"], timeout=90)
    # When the same job runs again (a redelivery after a lost ack) and the request is replayed
    from domain.db import unit_of_work
    from tasks.sandbox import judge_config

    emitted = []
    again = flow.run(EvaluatePayload(submission_id=out["submission"]["id"]), job_id=job["id"],
                     uow=lambda: unit_of_work(database.url), emit=lambda *a, **k: emitted.append(a),
                     config=judge_config(), max_time_ms=2000, max_memory_mb=64)
    replay = _submit(api, f, SUM, **{"Idempotency-Key": "sub-once"})
    other = api.post("/v1/submissions", json={**{k: f[k] for k in ("exercise_id", "user_id")}, "language": "python",
                                              "code": "print(1)\n"}, headers={"Idempotency-Key": "sub-once"})
    assert other.status_code == 409, other.text
    # Then nothing moved: one attempt, no new event, the same submission
    assert again["repeated"] is True and again["score"] == 100 and emitted == []
    assert replay["submission"]["id"] == out["submission"]["id"]
    with db() as s:
        progress = s.scalar(select(ExerciseProgress).where(ExerciseProgress.user_id == f["user_id"]))
        assert progress.attempts == 1
        assert s.scalar(select(func.count()).select_from(Submission)
                        .where(Submission.user_id == f["user_id"])) == 1


def test_concurrent_submissions_of_one_learner_count_each_attempt_once(api, db):
    f = _fixtures(db, linked=False)
    codes = [SUM, "print(0)\n", "import sys; print(sum(map(int, sys.stdin.read().split())))\n"]
    with ThreadPoolExecutor(3) as pool:
        outs = list(pool.map(lambda c: _submit(api, f, c), codes))
    for out in outs:
        assert wait_job(api, out["job"]["id"], timeout=120)["state"] == "succeeded"
    with db() as s:
        subs = s.scalars(select(Submission).where(Submission.user_id == f["user_id"])).all()
        progress = s.scalar(select(ExerciseProgress).where(ExerciseProgress.user_id == f["user_id"]))
    assert sorted(sub.attempt for sub in subs) == [1, 2, 3]
    assert progress.attempts == 3 and progress.best_score == 100


def test_hostile_code_through_the_worker_leaves_it_healthy(api, db):
    # Given the real worker (its environment holds the database URL and S3 credentials), and an
    # exercise whose memory limit leaves room for the process limit's worth of Python forks (the
    # whole tree counts: at 64 MB they would end as MLE, whose feedback shows no output)
    f = _fixtures(db, linked=False, memory_limit_mb=512)
    hostile = """
import os, signal
print(sorted(os.environ.items()))
for pid in (-1, 1, os.getppid()):
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass
try:
    while True:
        os.fork()
except OSError:
    pass
"""
    # When a submission dumps its environment, signals everyone it can and forks without end
    out = _submit(api, f, hostile)
    job = wait_job(api, out["job"]["id"], timeout=120)
    sub = api.get(f"/v1/submissions/{out['submission']['id']}").json()["submission"]
    # Then it is graded like any wrong program, and its output (shown in feedback) held no secret
    assert job["state"] == "succeeded" and sub["status"] == "graded" and sub["verdict"] in ("WA", "RE", "TLE")
    assert "PATH" in sub["feedback"]
    for secret in ("COURSEWORK_", "postgresql", "AWS_SECRET_ACCESS_KEY", "testing"):
        assert secret not in sub["feedback"]
    # And the next submission is evaluated normally by the same worker
    out = _submit(api, f, SUM)
    assert wait_job(api, out["job"]["id"], timeout=120)["state"] == "succeeded"
    assert api.get(f"/v1/submissions/{out['submission']['id']}").json()["submission"]["score"] == 100
