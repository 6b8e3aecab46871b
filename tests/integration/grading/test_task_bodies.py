"""Grading task bodies as plain functions: a real JobContext on a claimed job, no Celery."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from celeryconfig import settings
from domain.db import unit_of_work
from domain.grading import authoring, gradebook, quizzes
from domain.grading.models import CourseGrade, GradeItem
from domain.jobs.errors import JobCancelled
from domain.jobs.models import Job
from tasks.grading import grade_quiz, regrade_course
from tests.integration.grading.conftest import events, make_course
from tests.support.context import job_context

QUESTIONS = [{"id": None, "points": 2, "spec": {"type": "single_choice", "options": ["3", "4"], "correct": 1}},
             {"id": None, "points": 2, "spec": {"type": "true_false", "correct": True}}]


def test_grade_quiz_scores_the_attempt_emits_and_schedules_one_recompute(course):
    # Given a two-question quiz and a learner's attempt
    learner = course.learners[0]
    with unit_of_work(course.url) as session:
        quiz = authoring.create_quiz(session, course.course_id, "Week 1", QUESTIONS)
        q = [question.id for question in quizzes.questions_of(session, quiz.id)]
        attempt = quizzes.start_attempt(session, quiz.id, learner).id
    ctx, payload = job_context(course.url, "grade_quiz", {"attempt_id": attempt, "answers": [
        {"question_id": q[0], "value": 1}, {"question_id": q[1], "value": False}]})
    # When the task body runs
    result = grade_quiz.body(ctx, payload)
    # Then it returns the score, stored the grade item, announced it and scheduled one recompute
    assert (result["score"], result["max_score"]) == (2, 4)
    with unit_of_work(course.url) as session:
        item = session.scalar(select(GradeItem).where(GradeItem.user_id == learner, GradeItem.source_id == quiz.id))
        assert (item.score, item.max_score) == (2, 4)
        recompute = session.get(Job, result["recompute_job"])
        assert recompute.kind == "recompute_course_grade" and recompute.payload["user_id"] == learner
    assert [e["attempt_id"] for e in events(course.url, "quiz.graded", learner)] == [attempt]


def test_regrade_course_stops_at_the_next_chunk_once_its_job_is_cancelled(database, monkeypatch):
    # Given five learners with a code score each, regraded two at a time
    course = make_course(database.url, learners=5, scheme={"categories": {"code": {"weight": 1}}})
    with unit_of_work(course.url) as session:
        for learner in course.learners:
            gradebook.record_code_score(session, user_id=learner, course_id=course.course_id, exercise_id="e",
                                        score=50, max_score=100)
    monkeypatch.setattr(settings, "grading_chunk_size", 2)
    ctx, payload = job_context(course.url, "regrade_course", {"course_id": course.course_id})
    ctx.on_progress = lambda percent, message: ctx.cancel_event.set()    # cancelled after the first chunk
    # When the task body runs
    with pytest.raises(JobCancelled):
        regrade_course.body(ctx, payload)
    # Then the first chunk's grades are stored and the rest were not started
    with unit_of_work(course.url) as session:
        graded = session.scalars(select(CourseGrade.user_id).where(CourseGrade.course_id == course.course_id,
                                                                   CourseGrade.percent.is_not(None))).all()
    assert len(graded) == 2
