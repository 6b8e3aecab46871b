"""Fixtures of the tutor tests: a local OpenAI-compatible model server, a course built through the
domain layer, and a private stack (own Redis DB, intake and worker) whose worker talks to that server."""
from __future__ import annotations

import secrets

import pytest

from tests.integration.tutor.model_server import ModelServer


@pytest.fixture(scope="module")
def model_server():
    server = ModelServer().start()
    yield server
    server.stop()


def make_course(db_url: str, lessons: dict[str, tuple[str, str]]) -> dict:
    """A user and a course with one module holding ``lessons``; returns their ids by fixture key."""
    from domain.core.models import Course, Lesson, LessonType, Module, User
    from domain.db import unit_of_work

    tag = secrets.token_hex(4)
    with unit_of_work(db_url) as s:
        user = User(email=f"learner-{tag}@example.com", name="Learner")
        course = Course(slug=f"sql-{tag}", title="SQL basics")
        module = Module(course=course, title="Queries", position=1)
        s.add_all([user, course, module])
        ids = {}
        for pos, (key, (title, content)) in enumerate(lessons.items(), start=1):
            lesson = Lesson(module=module, title=title, position=pos, type=LessonType.article, content=content)
            s.add(lesson)
            s.flush()
            ids[key] = lesson.id
        s.flush()
        return {"user_id": user.id, "course_id": course.id, "lessons": ids}


def make_user(db_url: str) -> str:
    from domain.core.models import User
    from domain.db import unit_of_work

    with unit_of_work(db_url) as s:
        user = User(email=f"learner-{secrets.token_hex(4)}@example.com", name="Learner")
        s.add(user)
        s.flush()
        return user.id
