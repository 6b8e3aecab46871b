"""Recipients of a course announcement, a page at a time (keyset pagination on user id).

A page is ``(after, until]``: the fan-out job only ever holds one page of ids, and each page
becomes a sub-job whose idempotency key names its bounds, so a rerun enqueues nothing new.
"""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from domain.core.models import Enrollment

ACTIVE = ("active", "completed")


def page(session: Session, course_id: str, after: str, size: int) -> list[str]:
    return list(session.scalars(select(Enrollment.user_id)
                                .where(Enrollment.course_id == course_id, Enrollment.status.in_(ACTIVE),
                                       Enrollment.user_id > after)
                                .order_by(Enrollment.user_id).limit(size)))


def recipients(session: Session, course_id: str, after: str, until: str) -> list[str]:
    """The learners of one page, read again by the sub-job (bounded by the page size)."""
    return list(session.scalars(select(Enrollment.user_id)
                                .where(Enrollment.course_id == course_id, Enrollment.status.in_(ACTIVE),
                                       Enrollment.user_id > after, Enrollment.user_id <= until)
                                .order_by(Enrollment.user_id)))


def chunk_key(notification_id: str, after: str, until: str) -> str:
    return f"notify-chunk:{notification_id}:{after}:{until}"
