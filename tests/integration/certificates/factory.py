"""Learning-core fixtures for certificate tests, written through the domain models."""
from __future__ import annotations

import secrets
from datetime import datetime, timezone

from domain.core.models import Course, Enrollment, Lesson, LessonProgress, LessonType, Module, Role, User
from domain.grading.models import CourseGrade

DONE_AT = datetime(2026, 11, 20, 15, 30, tzinfo=timezone.utc)


def make_course(s, title: str = "Intro to Algorithms", required: int = 2, optional: int = 1) -> tuple[Course, list[Lesson]]:
    tag = secrets.token_hex(4)
    teacher = User(email=f"teacher-{tag}@example.org", name="Ada Lovelace", role=Role.instructor)
    s.add(teacher)
    s.flush()
    course = Course(slug=f"algo-{tag}", title=title, instructor_id=teacher.id)
    module = Module(title="Week 1", position=1)
    course.modules.append(module)
    lessons = [Lesson(title=f"Lesson {i}", position=i, type=LessonType.article, required=i < required)
               for i in range(required + optional)]
    module.lessons.extend(lessons)
    s.add(course)
    s.flush()
    return course, lessons


def make_learner(s, course: Course, lessons: list[Lesson], name: str, *, complete: bool = True,
                 percent: float | None = 85.0, passed: bool = True) -> User:
    user = User(email=f"{secrets.token_hex(6)}@example.org", name=name)
    s.add(user)
    s.flush()
    s.add(Enrollment(user_id=user.id, course_id=course.id))
    for lesson in lessons:
        if lesson.required and complete:
            s.add(LessonProgress(user_id=user.id, lesson_id=lesson.id, completed_at=DONE_AT))
    if percent is not None:
        s.add(CourseGrade(user_id=user.id, course_id=course.id, percent=percent,
                          letter="B" if percent >= 80 else "F", passed=passed, computed_at=DONE_AT))
    s.flush()
    return user
