"""Rules turned into counts per learner, over what the platform already records: learning
events (analytics), learner streaks (analytics, in the learner's time zone), course grades and
peer reviews (grading).

Each leaf rule is one grouped query; for a whole badge (a backfill) the threshold is pushed into
the query (``HAVING``) and the rules of an ``all`` are intersected, so a badge over millions of
events is one set-based pass per rule. For a few learners (an event's reaction, the sweep) the
same queries are filtered to them. Hours of the learner's own day: PostgreSQL converts in SQL
(``timezone(users.timezone, occurred_at)``); elsewhere (SQLite) the events are read and converted
in Python.
"""
from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import extract, func, select
from sqlalchemy.orm import Session

from domain.achievements import rules as R
from domain.analytics.models import LearnerStats, LearningEvent
from domain.core.models import User
from domain.grading.models import CourseGrade, PeerReview

E = LearningEvent
MAX_OCCURRENCES = 100       # a repeatable badge is awarded at most this many times to one learner


def _users(stmt, column, users):
    return stmt if users is None else stmt.where(column.in_(list(users)))


def counts(s: Session, leaf: R.Leaf, *, course_id: str | None = None, users=None, now: datetime | None = None,
           at_least: int | None = None) -> dict[str, int]:
    """The leaf's count per learner (learners with none are absent); ``at_least``: only those
    reaching it; ``users``: only these learners."""
    now = now or datetime.now(timezone.utc)
    if isinstance(leaf, R.Streak):
        stmt = _users(select(LearnerStats.user_id, LearnerStats.longest_streak), LearnerStats.user_id, users)
        if at_least:
            stmt = stmt.where(LearnerStats.longest_streak >= at_least)
        return {u: n for u, n in s.execute(stmt) if n}
    if isinstance(leaf, R.CoursesPassed):
        who, n = CourseGrade.user_id, func.count()
        stmt = _users(select(who, n).where(CourseGrade.passed.is_(True)), who, users)
        if course_id:
            stmt = stmt.where(CourseGrade.course_id == course_id)
    elif isinstance(leaf, R.PeerReviews):
        who, n = PeerReview.reviewer_id, func.count()
        stmt = _users(select(who, n).where(PeerReview.completed_at.is_not(None)), who, users)
    else:
        if isinstance(leaf, R.Events) and leaf.local_hours and s.get_bind().dialect.name != "postgresql":
            return _local_hours_in_python(s, leaf, course_id, users, now, at_least)
        who, n = E.user_id, func.count()
        stmt = _users(select(who, n), who, users)
        if course_id:
            stmt = stmt.where(E.course_id == course_id)
        if isinstance(leaf, R.Scores):
            types = R.GRADED if leaf.event == "any" else (leaf.event,)
            stmt = stmt.where(E.type.in_(types), E.score >= leaf.min_score)
        else:
            stmt = stmt.where(E.type == leaf.event)
            if leaf.within_days:
                stmt = stmt.where(E.occurred_at >= now - timedelta(days=leaf.within_days))
            if leaf.local_hours:
                hour = extract("hour", func.timezone(func.coalesce(User.timezone, "UTC"), E.occurred_at))
                stmt = stmt.outerjoin(User, User.id == E.user_id).where(hour >= leaf.local_hours[0],
                                                                         hour < leaf.local_hours[1])
    stmt = stmt.group_by(who)
    if at_least:
        stmt = stmt.having(n >= at_least)
    return dict(s.execute(stmt).all())


def _local_hours_in_python(s: Session, leaf: R.Events, course_id, users, now, at_least) -> dict[str, int]:
    stmt = _users(select(E.user_id, E.occurred_at, User.timezone).outerjoin(User, User.id == E.user_id)
                  .where(E.type == leaf.event), E.user_id, users)
    if course_id:
        stmt = stmt.where(E.course_id == course_id)
    if leaf.within_days:
        stmt = stmt.where(E.occurred_at >= now - timedelta(days=leaf.within_days))
    found: Counter[str] = Counter()
    zones: dict[str, ZoneInfo] = {}
    for user_id, at, tz in s.execute(stmt):
        zone = zones.get(tz or "UTC")
        if zone is None:
            try:
                zone = zones[tz or "UTC"] = ZoneInfo(tz or "UTC")
            except Exception:      # an unknown zone name on a user row: the UTC day
                zone = zones[tz or "UTC"] = ZoneInfo("UTC")
        if leaf.local_hours[0] <= at.astimezone(zone).hour < leaf.local_hours[1]:
            found[user_id] += 1
    return {u: n for u, n in found.items() if not at_least or n >= at_least}


def qualifying(s: Session, rule, *, course_id: str | None, repeatable: bool, users=None,
               now: datetime | None = None) -> dict[str, int]:
    """Learners who meet the rule, with how many times they earned it (1 unless repeatable)."""
    parts = [(leaf, counts(s, leaf, course_id=course_id, users=users, now=now, at_least=leaf.need()))
             for leaf in R.leaves(rule)]
    common = set.intersection(*(set(found) for _, found in parts))
    if not repeatable:
        return dict.fromkeys(common, 1)
    return {u: min(MAX_OCCURRENCES, *(found[u] // leaf.need() for leaf, found in parts)) for u in common}


def progress(s: Session, rule, *, course_id: str | None, user_id: str, now: datetime | None = None) -> list[dict]:
    """Per leaf rule: what the learner has and what the rule needs (e.g. streak 4 of 7)."""
    out = []
    for leaf in R.leaves(rule):
        have = counts(s, leaf, course_id=course_id, users=[user_id], now=now).get(user_id, 0)
        out.append({"rule": leaf.type, "have": min(have, leaf.need()), "need": leaf.need()})
    return out
