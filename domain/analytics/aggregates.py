"""The rollup definitions as SQL (SQLAlchemy Core, portable to PostgreSQL and SQLite).

Each function returns a SELECT whose columns match its rollup table; the caller restricts it
to the affected keys (incremental) or not at all (full recompute), so both paths share one
definition and therefore give identical rows.
"""
from __future__ import annotations

from sqlalchemy import Float, Numeric, Select, case, cast, distinct, func, literal, select

from domain.analytics.models import CourseDay, LearnerDay, LearningEvent

E = LearningEvent.__table__


def _count(type_name: str):
    return func.coalesce(func.sum(case((E.c.type == type_name, 1), else_=0)), 0)


def _rounded(expr, places: int = 4):
    """Round a float aggregate so the order rows were summed in cannot change the stored value."""
    return cast(func.round(cast(expr, Numeric), places), Float)


def _joined(sel: Select, keys) -> Select:
    """Restrict an aggregate over the events to the rows whose key is in ``keys`` (a key table)."""
    if keys is None:
        return sel
    from domain.analytics.keys import on

    return sel.select_from(E.join(keys, on(keys, E)))


def course_day(keys=None) -> Select:
    active = func.count(distinct(E.c.user_id))
    completing = func.count(distinct(case((E.c.type == "lesson_completed", E.c.user_id))))
    return _joined(select(E.c.course_id, E.c.day,
                   _count("enrollment").label("enrollments"),
                   active.label("active_learners"),
                   _count("lesson_completed").label("lesson_completions"),
                   completing.label("completing_learners"),
                   _rounded(completing * literal(1.0) / active).label("completion_rate"),
                   _count("quiz_graded").label("quiz_count"),
                   _rounded(func.avg(case((E.c.type == "quiz_graded", E.c.score)))).label("avg_quiz_score"),
                   func.coalesce(func.sum(case((E.c.type == "video_watched", E.c.seconds), else_=0)), 0)
                   .label("seconds_watched"),
                   _count("coupon_used").label("coupon_uses"),
                   _count("certificate_issued").label("certificates"))
            .where(E.c.course_id.is_not(None))
            .group_by(E.c.course_id, E.c.day), keys)


def learner_day(keys=None) -> Select:
    return _joined(select(E.c.user_id, E.c.local_day,
                   func.count().label("events"),
                   _count("lesson_completed").label("lessons_completed"),
                   func.coalesce(func.sum(case((E.c.type == "video_watched", E.c.seconds), else_=0)), 0)
                   .label("seconds_watched"))
            .group_by(E.c.user_id, E.c.local_day), keys)


def topic_score(keys=None) -> Select:
    """Best score per exercise, summed per (topic, learner)."""
    best = _joined(select(E.c.topic, E.c.user_id, E.c.exercise_id,
                          func.max(E.c.score).label("best"), func.count().label("n"))
                   .where(E.c.type == "submission_evaluated"), keys)
    best = best.group_by(E.c.topic, E.c.user_id, E.c.exercise_id).subquery()
    return (select(best.c.topic, best.c.user_id,
                   _rounded(func.sum(best.c.best)).label("points"),
                   func.count().label("exercises"),
                   func.sum(best.c.n).label("submissions"))
            .group_by(best.c.topic, best.c.user_id))


def platform_from_courses() -> Select:
    C = CourseDay.__table__
    return (select(C.c.day,
                   func.sum(C.c.enrollments).label("enrollments"),
                   func.sum(C.c.lesson_completions).label("lesson_completions"),
                   func.sum(C.c.seconds_watched).label("seconds_watched"),
                   func.sum(C.c.coupon_uses).label("coupon_uses"),
                   func.sum(C.c.certificates).label("certificates"),
                   func.sum(C.c.active_learners).label("course_learner_days"))
            .group_by(C.c.day))


def platform_active_learners() -> Select:
    L = LearnerDay.__table__
    return select(L.c.local_day, func.count().label("active_learners")).group_by(L.c.local_day)
