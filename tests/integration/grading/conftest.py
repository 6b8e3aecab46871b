"""Grading fixtures, created through the domain layer on the test database."""
from __future__ import annotations

import secrets
from dataclasses import dataclass

import pytest
from sqlalchemy import func, select

from domain.core.models import Course, Enrollment, User
from domain.db import unit_of_work
from domain.grading import authoring
from domain.jobs.models import Job, JobEvent
from tests.support.stack import wait_for


@dataclass
class CourseFixture:
    url: str
    course_id: str
    learners: list[str]


def make_course(url: str, learners: int = 3, scheme: dict | None = None) -> CourseFixture:
    tag = secrets.token_hex(4)
    with unit_of_work(url) as s:
        course = Course(slug=f"grading-{tag}", title=f"Grading {tag}")
        s.add(course)
        users = [User(email=f"l{i}-{tag}@example.test", name=f"Learner {i}") for i in range(learners)]
        s.add_all(users)
        s.flush()
        s.add_all(Enrollment(user_id=u.id, course_id=course.id) for u in users)
        authoring.set_scheme(s, course.id, scheme or {
            "categories": {"quiz": {"weight": 30}, "assignment": {"weight": 50}, "code": {"weight": 20}},
            "pass_threshold": 60})
        return CourseFixture(url, course.id, [u.id for u in users])


@pytest.fixture
def course(database):
    return make_course(database.url)


def events(url: str, type_: str, user_id: str | None = None) -> list[dict]:
    with unit_of_work(url) as s:
        stmt = select(JobEvent.data).where(JobEvent.type == type_).order_by(JobEvent.id)
        if user_id:
            stmt = stmt.where(JobEvent.user_id == user_id)
        return list(s.scalars(stmt))


def jobs_of(url: str, kind: str, **payload) -> list[Job]:
    with unit_of_work(url) as s:
        rows = list(s.scalars(select(Job).where(Job.kind == kind).order_by(Job.created_at)))
        return [j for j in rows if all(j.payload.get(k) == v for k, v in payload.items())]


def wait_until(fn, timeout: float = 60.0, what: str = "condition"):
    return wait_for(fn, timeout=timeout, interval=0.2, message=what)


def settled_grade(url: str, user_id: str, course_id: str, timeout: float = 60.0):
    """Wait until the learner's recompute jobs are all finished and the grade is clean."""
    from domain.grading.models import CourseGrade

    def done():
        pending = [j for j in jobs_of(url, "recompute_course_grade", user_id=user_id, course_id=course_id)
                   if j.state not in ("succeeded", "failed", "dead_lettered", "cancelled")]
        with unit_of_work(url) as s:
            row = s.scalar(select(CourseGrade).where(CourseGrade.user_id == user_id, CourseGrade.course_id == course_id))
            return row if (row and not row.dirty and row.percent is not None and not pending) else None
    return wait_until(done, timeout, "the course grade to settle")


def count(url: str, model, *where) -> int:
    with unit_of_work(url) as s:
        return s.scalar(select(func.count()).select_from(model).where(*where))
