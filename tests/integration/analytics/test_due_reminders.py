"""Due-date reminders: one in-app + email notification per learner who has not submitted."""
from __future__ import annotations

import secrets
from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select

from domain.analytics import reminders
from domain.core.models import Course, Enrollment, User
from domain.db import unit_of_work
from domain.grading import assignments, authoring
from domain.jobs.models import Job
from domain.notifications.models import Delivery, Notification
from tests.support.stack import wait_for

RUBRIC = [{"id": "q", "title": "Quality", "levels": [{"id": "ok", "title": "OK", "points": 10}]}]


def test_due_soon_reminds_each_learner_without_a_submission_once(api, database):
    url = database.url
    now = datetime.now(timezone.utc)
    tag = secrets.token_hex(4)
    # Given three learners, an assignment due in 3 hours (one learner already submitted)
    # and another assignment due in a week
    with unit_of_work(url) as s:
        course = Course(slug=f"due-{tag}", title=f"Due {tag}")
        users = [User(email=f"due{i}-{tag}@example.test", name=f"Due {i}") for i in range(3)]
        s.add(course)
        s.add_all(users)
        s.flush()
        s.add_all(Enrollment(user_id=u.id, course_id=course.id) for u in users)
        soon = authoring.create_assignment(s, course.id, "Essay", RUBRIC, due_at=now + timedelta(hours=3))
        authoring.create_assignment(s, course.id, "Later", RUBRIC, due_at=now + timedelta(days=7))
        s.flush()
        assignments.submit(s, soon.id, users[0].id, "done", now=now)
        learner_ids = [u.id for u in users]
    # When the beat entry runs twice (a doubled run)
    with unit_of_work(url) as s:
        first = reminders.due_date_reminders(s, now)
    with unit_of_work(url) as s:
        second = reminders.due_date_reminders(s, now)
    # Then the two learners who did not submit get one notify job each, and the rerun adds none
    keys = {f"due-soon:{soon.id}:{uid}" for uid in learner_ids[1:]}
    with unit_of_work(url) as s:
        jobs = s.scalars(select(Job).where(Job.idempotency_key.like(f"due-soon:{soon.id}:%"))).all()
        assert {j.idempotency_key for j in jobs} == keys
    assert second["enqueued"] == 0 and first["enqueued"] >= 2

    # and the notifications family delivers them (the relay publishes, the worker runs notify)
    def delivered():
        with unit_of_work(url) as s:
            return s.scalar(select(func.count()).select_from(Delivery)
                            .join(Notification, Notification.id == Delivery.notification_id)
                            .where(Delivery.user_id.in_(learner_ids), Delivery.channel == "in_app",
                                   Notification.type == "assignment_due_soon"))
    wait_for(lambda: delivered() >= 2, timeout=60, message="two assignment_due_soon notifications")
    assert delivered() == 2
