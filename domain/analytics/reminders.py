"""Due-date reminders: learners with an assignment due within the next day and nothing
submitted get one ``assignment_due_soon`` notification (a ``notify`` job).

A bounded batch per run; the idempotency key ``due-soon:<assignment>:<user>`` makes a missed
or doubled beat run harmless (the same learner is never reminded twice for one assignment).
"""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from domain.core.models import Course, Enrollment
from domain.grading.models import Assignment, Submission
from domain.jobs import enqueueing
from domain.jobs.kinds import Enqueue
from domain.jobs.models import Job

WINDOW = timedelta(hours=24)
DONE = ("submitted", "graded")


def due_soon(s: Session, now_utc: datetime, limit: int = 1000) -> list[Enqueue]:
    """The reminders still to send: (assignment due in (now, now+24h], enrolled, not submitted)."""
    rows = s.execute(
        select(Assignment.id, Assignment.title, Assignment.due_at, Course.title, Enrollment.user_id)
        .join(Course, Course.id == Assignment.course_id)
        .join(Enrollment, and_(Enrollment.course_id == Assignment.course_id, Enrollment.status == "active"))
        .outerjoin(Submission, and_(Submission.assignment_id == Assignment.id,
                                    Submission.user_id == Enrollment.user_id, Submission.status.in_(DONE)))
        .where(Assignment.due_at > now_utc, Assignment.due_at <= now_utc + WINDOW, Submission.id.is_(None))
        .order_by(Assignment.due_at, Assignment.id, Enrollment.user_id)
        .limit(limit)
    ).all()
    return [
        Enqueue("notify", {"user_id": user_id, "type": "assignment_due_soon",
                           "data": {"assignment_title": title, "course_title": course_title,
                                    "due_at": due_at.strftime("%Y-%m-%d %H:%M UTC")},
                           "dedupe_key": f"due-soon:{assignment_id}:{user_id}"},
                idempotency_key=f"due-soon:{assignment_id}:{user_id}")
        for assignment_id, title, due_at, course_title, user_id in rows
    ]


def due_date_reminders(s: Session, now_utc: datetime, limit: int = 1000) -> dict:
    wanted = due_soon(s, now_utc, limit)
    keys = [w.idempotency_key for w in wanted]
    already = set(s.scalars(select(Job.idempotency_key).where(Job.caller == "system",
                                                               Job.idempotency_key.in_(keys)))) if keys else set()
    fresh = [w for w in wanted if w.idempotency_key not in already]
    enqueueing.enqueue_many(s, fresh)
    return {"at": now_utc.isoformat(), "due_soon": len(wanted), "enqueued": len(fresh)}
