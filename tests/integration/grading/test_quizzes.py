"""Quiz grading end to end: per-question results, time limit, attempt policy, events, bad input."""
from datetime import timedelta

from sqlalchemy import select

from domain.db import unit_of_work, utcnow
from domain.grading import api as grading_api, authoring, quizzes
from domain.grading.models import GradeItem, QuizAttempt
from domain.jobs import enqueueing
from tests.integration.grading.conftest import count, events, settled_grade
from tests.support.jobs import run_job, wait_job
from workers.events import install as install_publish_hooks

QUESTIONS = [
    {"id": None, "points": 2, "spec": {"type": "single_choice", "options": ["3", "4", "5"], "correct": 1}},
    {"points": 2, "spec": {"type": "multiple_choice", "options": ["2", "3", "4", "9"], "correct": [0, 1]}},
    {"points": 1, "spec": {"type": "true_false", "correct": True}},
    {"points": 1, "spec": {"type": "numeric", "value": 3.14159, "abs_tolerance": 0.001}},
    {"points": 1, "spec": {"type": "short_text", "accepted": ["Ada Lovelace"]}},
    {"points": 2, "spec": {"type": "ordering", "items": ["a", "b", "c", "d"]}},
    {"points": 1, "spec": {"type": "matching", "pairs": {"fr": "Paris", "de": "Berlin"}}},
]


def _quiz(course, **options):
    with unit_of_work(course.url) as s:
        quiz = authoring.create_quiz(s, course.course_id, "Week 1", [dict(q, id=None) for q in QUESTIONS], **options)
        ids = [q.id for q in quizzes.questions_of(s, quiz.id)]
        return quiz.id, ids


def _start(course, quiz_id, user, started_ago=0):
    with unit_of_work(course.url) as s:
        return quizzes.start_attempt(s, quiz_id, user, now=utcnow() - timedelta(seconds=started_ago)).id


def test_grade_quiz_scores_every_question_and_updates_the_course_grade(api, course):
    # Given a quiz with one question of every type, and a learner's attempt
    quiz_id, q = _quiz(course, max_attempts=2)
    learner = course.learners[0]
    attempt = _start(course, quiz_id, learner)
    answers = [{"question_id": q[0], "value": 1}, {"question_id": q[1], "value": [0]},
               {"question_id": q[2], "value": True}, {"question_id": q[3], "value": 3.1416},
               {"question_id": q[4], "value": "  ada   LOVELACE"}, {"question_id": q[5], "value": ["a", "b", "d", "c"]},
               {"question_id": q[6], "value": {"fr": "Paris", "de": "Rome"}}]
    # When it is graded through intake
    job = run_job(api, "grade_quiz", {"attempt_id": attempt, "answers": answers})
    # Then each question has its points and feedback: 2 + 1 + 1 + 1 + 1 + 1 + 0.5 = 7.5 of 10
    assert job["state"] == "succeeded", job
    assert job["result"]["score"] == 7.5 and job["result"]["max_score"] == 10
    points = [r["points"] for r in job["result"]["results"]]
    assert points == [2, 1, 1, 1, 1, 1, 0.5]
    with unit_of_work(course.url) as s:
        row = s.get(QuizAttempt, attempt)
        assert row.status == "graded" and row.results[1]["feedback"] == "Not quite."
        item = s.scalar(select(GradeItem).where(GradeItem.user_id == learner, GradeItem.source_id == quiz_id))
        assert (item.score, item.max_score, item.category) == (7.5, 10, "quiz")
    assert events(course.url, "quiz.graded", learner) == [
        {"user_id": learner, "course_id": course.course_id, "quiz_id": quiz_id, "attempt_id": attempt, "score_pct": 75.0}]
    # And the coalesced recompute gives the course grade: quiz 75 % × 30 % weight = 22.5
    grade = settled_grade(course.url, learner, course.course_id)
    assert grade.percent == 22.5 and grade.letter == "F" and grade.passed is False
    with unit_of_work(course.url) as s:
        assert grading_api.course_grade(s, learner, course.course_id)["percent"] == 22.5
    assert events(course.url, "course_grade.changed", learner)[-1] == {
        "user_id": learner, "course_id": course.course_id, "old": None, "new": 22.5, "letter": "F"}


def test_answers_after_the_time_limit_do_not_count_and_best_attempt_counts(api, course):
    # Given a 10-minute quiz started 20 minutes ago (server clock), best-of policy
    quiz_id, q = _quiz(course, time_limit_seconds=600, attempt_policy="best")
    learner = course.learners[1]
    first = _start(course, quiz_id, learner, started_ago=1200)
    early = (utcnow() - timedelta(seconds=1100)).isoformat()
    answers = [{"question_id": q[0], "value": 1, "answered_at": early},    # in time: counts
               {"question_id": q[2], "value": True}]                        # at submission (now): too late
    # When graded
    job = run_job(api, "grade_quiz", {"attempt_id": first, "answers": answers})
    # Then only the in-time answer counts
    assert job["result"]["score"] == 2, job
    late = job["result"]["results"][2]
    assert late["counted"] is False and late["points"] == 0 and "time limit" in late["feedback"]
    # When a second, worse attempt is graded, the best one stays in the gradebook
    second = _start(course, quiz_id, learner)
    assert run_job(api, "grade_quiz", {"attempt_id": second, "answers": []})["result"]["score"] == 0
    with unit_of_work(course.url) as s:
        item = s.scalar(select(GradeItem).where(GradeItem.user_id == learner, GradeItem.source_id == quiz_id))
        assert item.score == 2


def test_bad_quiz_input_is_refused_at_intake_with_the_field(api, course):
    quiz_id, q = _quiz(course, max_attempts=1)
    learner = course.learners[2]
    attempt = _start(course, quiz_id, learner)

    def post(payload):
        return api.post("/v1/jobs", json={"kind": "grade_quiz", "payload": payload})

    # an answer for a question that is not in the quiz
    r = post({"attempt_id": attempt, "answers": [{"question_id": "nope", "value": 1}]})
    assert r.status_code == 422 and r.json()["error"]["details"][0]["field"] == "answers.0.question_id", r.text
    # an answer of the wrong shape
    r = post({"attempt_id": attempt, "answers": [{"question_id": q[3], "value": "pi"}]})
    assert r.status_code == 422 and r.json()["error"]["details"][0]["field"] == "answers.0.value", r.text
    # an unknown attempt; a schema error
    assert post({"attempt_id": "missing", "answers": []}).status_code == 422
    assert post({"attempt_id": attempt, "answers": [], "extra": 1}).status_code == 422
    # an attempt beyond the limit cannot even be started
    try:
        _start(course, quiz_id, learner)
        raise AssertionError("a second attempt was allowed")
    except quizzes.AttemptLimitReached as exc:
        assert "1 attempt" in str(exc) and exc.code == "attempt_limit_reached"
    # and one written beyond the limit by hand is refused too
    with unit_of_work(course.url) as s:
        rogue = QuizAttempt(quiz_id=quiz_id, user_id=learner, number=2, started_at=utcnow())
        s.add(rogue)
        s.flush()
        rogue_id = rogue.id
    r = post({"attempt_id": rogue_id, "answers": []})
    assert r.status_code == 422 and "beyond the quiz's limit" in r.json()["error"]["message"], r.text
    assert r.json()["error"]["details"][0]["field"] == "attempt_id"
    assert count(course.url, GradeItem, GradeItem.user_id == learner) == 0


def test_bad_input_reaching_the_worker_fails_permanently_with_nothing_written(api, course):
    # Given a grade_quiz job that skipped intake's checks (as a web tier writing jobs directly could)
    quiz_id, q = _quiz(course)
    learner = course.learners[0]
    attempt = _start(course, quiz_id, learner)
    install_publish_hooks()   # the job is sent right after its commit
    with unit_of_work(course.url) as s:
        job, _ = enqueueing.enqueue(s, "grade_quiz", {"attempt_id": attempt, "answers": [
            {"question_id": q[0], "value": 1}, {"question_id": "not-in-quiz", "value": 1}]},
            caller="system", check_data=False)
        job_id = job.id
    # When the worker runs it
    job = wait_job(api, job_id)
    # Then it failed once, permanently, naming the field, and nothing was written
    assert job["state"] == "failed" and job["attempts"] == 1, job
    assert job["error"]["code"] == "invalid_payload"
    assert job["error"]["details"] == [{"field": "answers.1.question_id",
                                        "message": "question 'not-in-quiz' is not in this quiz"}]
    with unit_of_work(course.url) as s:
        row = s.get(QuizAttempt, attempt)
        assert row.status == "in_progress" and row.results is None and row.score is None
    assert count(course.url, GradeItem, GradeItem.source_id == quiz_id) == 0
    assert events(course.url, "quiz.graded", learner) == []


def test_grading_the_same_attempt_twice_changes_nothing(api, course):
    quiz_id, q = _quiz(course)
    attempt = _start(course, quiz_id, course.learners[1])
    first = run_job(api, "grade_quiz", {"attempt_id": attempt, "answers": [{"question_id": q[0], "value": 1}]})
    assert first["state"] == "succeeded"
    # a redelivered job (same payload) reruns the engine: it finds the attempt graded
    with unit_of_work(course.url) as s:
        again = quizzes.grade_attempt(s, attempt, [], utcnow())
    assert again["already_graded"] is True and again["events"] == []
    assert len(events(course.url, "quiz.graded", course.learners[1])) == 1
    # and intake refuses a second grading of it
    r = api.post("/v1/jobs", json={"kind": "grade_quiz", "payload": {"attempt_id": attempt, "answers": []}})
    assert r.status_code == 422
