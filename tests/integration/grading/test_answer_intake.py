"""Answers are checked at intake (422 naming the field), compared with the same normalisation on
both sides, and ``null`` counts as not answered."""
import json
from datetime import timedelta

import pytest

from domain.db import unit_of_work, utcnow
from domain.grading import authoring, quizzes
from tests.support.jobs import run_job

QUESTIONS = [
    {"points": 1, "spec": {"type": "numeric", "value": 2.5, "abs_tolerance": 0.01}},
    {"points": 1, "spec": {"type": "single_choice", "options": ["a", "b", "c"], "correct": 1}},
    {"points": 1, "spec": {"type": "ordering", "items": ["a", "b", "c"]}},
    {"points": 1, "spec": {"type": "short_text", "pattern": "Straße"}},
    {"points": 1, "spec": {"type": "short_text", "accepted": ["café"], "pattern": "İstanbul|(a+)+b"}},
]


@pytest.fixture
def attempt(course):
    with unit_of_work(course.url) as s:
        quiz = authoring.create_quiz(s, course.course_id, "Checks", QUESTIONS, time_limit_seconds=3600)
        qids = [q.id for q in quizzes.questions_of(s, quiz.id)]
        attempt = quizzes.start_attempt(s, quiz.id, course.learners[0], now=utcnow() - timedelta(minutes=5))
        return attempt.id, qids, attempt.started_at


def post_raw(api, body: str):
    return api.post("/v1/jobs", content=body.encode(), headers={"Content-Type": "application/json"})


def test_bad_numbers_choices_orderings_and_times_are_422_with_the_field(api, attempt):
    attempt_id, q, started_at = attempt

    def refused(answer, field="answers.0.value", raw=None):
        body = raw or json.dumps({"kind": "grade_quiz", "payload": {"attempt_id": attempt_id, "answers": [answer]}})
        r = post_raw(api, body)
        assert r.status_code == 422, (answer, r.status_code, r.text)
        assert r.json()["error"]["details"][0]["field"].endswith(field), r.text

    def raw_value(literal):
        return ('{"kind": "grade_quiz", "payload": {"attempt_id": "%s", "answers": '
                '[{"question_id": "%s", "value": %s}]}}' % (attempt_id, q[0], literal))

    # out-of-range and non-finite literals: refused as JSON (400) or as the answer (422), never a 500
    for literal in ("1e400", "-1e400", "1" + "0" * 400, "NaN", "Infinity", "-Infinity"):
        r = post_raw(api, raw_value(literal))
        assert r.status_code in (400, 422), (literal, r.status_code, r.text)
        assert r.json()["error"]["details"][0]["field"] in ("body", "answers.0.value"), r.text
    refused({"question_id": q[1], "value": 99})
    refused({"question_id": q[1], "value": -1})
    refused({"question_id": q[2], "value": ["a", "b", "c", "d"]})
    refused({"question_id": q[2], "value": ["a", "b"]})
    refused({"question_id": q[1], "value": 1, "answered_at": (utcnow()).replace(tzinfo=None).isoformat()},
            field="answered_at")
    refused({"question_id": q[1], "value": 1, "answered_at": (started_at - timedelta(seconds=1)).isoformat()},
            field="answers.0.answered_at")
    refused({"question_id": q[1], "value": 1, "answered_at": (utcnow() + timedelta(hours=1)).isoformat()},
            field="answers.0.answered_at")


def test_null_is_unanswered_and_text_is_normalised_on_both_sides(api, attempt):
    attempt_id, q, started_at = attempt
    in_time = (started_at + timedelta(seconds=30)).isoformat()
    job = run_job(api, "grade_quiz", {"attempt_id": attempt_id, "answers": [
        {"question_id": q[0], "value": None},
        {"question_id": q[1], "value": 1, "answered_at": in_time},
        {"question_id": q[2], "value": ["a", "c", "b"]},
        {"question_id": q[3], "value": "STRASSE"},
        {"question_id": q[4], "value": "cafe\u0301"}]})
    assert job["state"] == "succeeded", job
    results = job["result"]["results"]
    assert [r["points"] for r in results] == [0, 1, pytest.approx(1 / 3, abs=1e-6), 1, 1]
    assert results[0]["feedback"] == "Not answered."


def test_a_pattern_that_re2_cannot_run_is_refused_when_authored(course):
    with pytest.raises(ValueError, match="RE2"), unit_of_work(course.url) as s:
        authoring.create_quiz(s, course.course_id, "Bad", [
            {"points": 1, "spec": {"type": "short_text", "pattern": r"(\w+)\s\1"}}])


def test_a_question_stored_with_a_pattern_re2_refuses_is_a_422_not_a_crash(api, course):
    # Given a question written before patterns were checked (a look-ahead, which RE2 cannot run)
    from domain.grading.models import QuizQuestion

    with unit_of_work(course.url) as s:
        quiz = authoring.create_quiz(s, course.course_id, "Old", [{"points": 1, "spec": {"type": "true_false",
                                                                                         "correct": True}}])
        s.add(QuizQuestion(quiz_id=quiz.id, position=2, points=1,
                           spec={"type": "short_text", "accepted": [], "pattern": "(?=a)a"}))
        attempt_id = quizzes.start_attempt(s, quiz.id, course.learners[1]).id
    # When its attempt is handed in, Then intake names the attempt and the reason
    r = api.post("/v1/jobs", json={"kind": "grade_quiz", "payload": {"attempt_id": attempt_id, "answers": []}})
    assert r.status_code == 422, r.text
    assert r.json()["error"]["details"][0]["field"] == "attempt_id" and "RE2" in r.text


def test_a_lone_surrogate_in_an_answer_is_a_422(api, attempt):
    attempt_id, q, _ = attempt
    body = ('{"kind": "grade_quiz", "payload": {"attempt_id": "%s", "answers": '
            '[{"question_id": "%s", "value": "a\\ud800"}]}}' % (attempt_id, q[3]))
    r = post_raw(api, body)
    assert r.status_code in (400, 422), r.text
