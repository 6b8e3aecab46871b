"""The grading family's public API for other families (certificates, notifications, analytics).

Read-only; takes the caller's SQLAlchemy session.
"""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from domain.grading.models import CourseGrade


def course_grade(session: Session, user_id: str, course_id: str) -> dict | None:
    """The learner's last computed course grade, or None when none was computed yet.

    ``{"percent": float (0..100), "letter": str, "passed": bool, "computed_at": datetime}``
    """
    row = session.execute(
        select(CourseGrade.percent, CourseGrade.letter, CourseGrade.passed, CourseGrade.computed_at)
        .where(CourseGrade.user_id == user_id, CourseGrade.course_id == course_id)
    ).first()
    if row is None or row.percent is None:
        return None
    return {"percent": row.percent, "letter": row.letter, "passed": bool(row.passed),
            "computed_at": row.computed_at}
