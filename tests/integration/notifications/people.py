"""Learning-core fixtures for the notifications tests, through the domain models."""
from __future__ import annotations

import secrets

from sqlalchemy import insert

from domain.core.models import Course, Enrollment, User
from domain.db import new_id, unit_of_work


def make_user(db_url: str, name: str = "Ada Lovelace", email: str | None = None) -> dict:
    email = email or f"{secrets.token_hex(5)}@example.test"
    with unit_of_work(db_url) as s:
        user = User(id=new_id(), email=email, name=name)
        s.add(user)
    return {"id": user.id, "email": email, "name": name}


def make_course(db_url: str, learners: int, title: str = "Intro to Testing") -> tuple[str, list[dict]]:
    """A course with ``learners`` enrolled users (bulk inserts, so 5,000 take a second)."""
    tag = secrets.token_hex(4)
    course_id = new_id()
    users = [{"id": new_id(), "email": f"learner{i}-{tag}@example.test", "name": f"Learner {i}"}
             for i in range(learners)]
    with unit_of_work(db_url) as s:
        s.add(Course(id=course_id, slug=f"course-{tag}", title=title))
        s.flush()
        for start in range(0, len(users), 1000):
            part = users[start:start + 1000]
            s.execute(insert(User), part)
            s.execute(insert(Enrollment), [{"id": new_id(), "user_id": u["id"], "course_id": course_id}
                                           for u in part])
    return course_id, users
