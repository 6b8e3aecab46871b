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


def learner_stats(user_keys=None) -> Select:
    """Streaks from the learner-day rows, set-based (gaps and islands; PostgreSQL: ``date - int``).

    In a run of consecutive days, ``local_day - row_number()`` is constant, so one GROUP BY gives
    the runs; the current streak is the run ending at the last active day. Same numbers as
    ``streaks.from_days``. ``user_keys``: a table with a ``user_id`` column to restrict it to.
    """
    from sqlalchemy import Integer
    from sqlalchemy.dialects.postgresql import aggregate_order_by

    L = LearnerDay.__table__
    rn = func.row_number().over(partition_by=L.c.user_id, order_by=L.c.local_day)
    days = select(L.c.user_id, L.c.local_day, L.c.lessons_completed, L.c.seconds_watched,
                  (L.c.local_day - cast(rn, Integer)).label("grp"))
    if user_keys is not None:
        days = days.where(L.c.user_id.in_(select(user_keys.c.user_id)))
    d = days.subquery()
    runs = (select(d.c.user_id, func.count().label("n"), func.min(d.c.local_day).label("first"),
                   func.max(d.c.local_day).label("last"), func.sum(d.c.lessons_completed).label("lessons"),
                   func.sum(d.c.seconds_watched).label("seconds"))
            .group_by(d.c.user_id, d.c.grp).subquery())
    return (select(runs.c.user_id,
                   func.min(runs.c.first).label("first_active_day"),
                   func.max(runs.c.last).label("last_active_day"),
                   func.array_agg(aggregate_order_by(runs.c.n, runs.c.last.desc()))[1].label("current_streak"),
                   func.max(runs.c.n).label("longest_streak"),
                   func.sum(runs.c.n).label("active_days"),
                   func.sum(runs.c.lessons).label("lessons_completed"),
                   func.sum(runs.c.seconds).label("seconds_watched"))
            .group_by(runs.c.user_id))
