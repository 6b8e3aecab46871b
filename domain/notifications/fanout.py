"""Recipients of a course announcement, a page at a time (keyset pagination on user id).

A page is ``(after, until]``: the fan-out job only ever holds one page of ids, and each page
becomes a sub-job whose idempotency key names its bounds, so a rerun enqueues nothing new.
"""
from __future__ import annotations

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from domain.core.models import Enrollment

ACTIVE = ("active", "completed")


def _active():
    # plain equalities: an IN (...) list is re-rendered into the statement's text at every
    # execution (SQLAlchemy's "expanding" parameters), a millisecond for a big INSERT ... SELECT
    return or_(*(Enrollment.status == status for status in ACTIVE))


def page(session: Session, course_id: str, after: str, size: int) -> list[str]:
    return list(session.scalars(select(Enrollment.user_id)
                                .where(Enrollment.course_id == course_id, _active(),
                                       Enrollment.user_id > after)
                                .order_by(Enrollment.user_id).limit(size)))


def recipients(course_id: str, after: str, until: str) -> Select:
    """The learners of one page as a SELECT of user ids (bounded by the page size): the
    sub-job inserts its delivery rows straight from it (``INSERT ... SELECT``)."""
    return select(Enrollment.user_id).where(Enrollment.course_id == course_id, _active(),
                                            Enrollment.user_id > after, Enrollment.user_id <= until)


def count(session: Session, recipients_: Select) -> int:
    return session.scalar(select(func.count()).select_from(recipients_.subquery()))


def chunk_key(notification_id: str, after: str, until: str) -> str:
    return f"notify-chunk:{notification_id}:{after}:{until}"
