"""Awards: exactly once per learner × badge (× course for a course badge) × occurrence, by a
unique key (``INSERT ... ON CONFLICT DO NOTHING RETURNING``), never a read-then-write. So a
redelivered job, two events at once and two sweeps at once award once; the rows the statement
returns are the awards that are new, and only those are announced."""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, text, update
from sqlalchemy.orm import Session

from domain.achievements import evaluate, rules
from domain.achievements.models import PLATFORM, Award, Badge
from domain.analytics.models import LearningEvent
from domain.db import new_id, utcnow
from domain.grading.models import CourseGrade, PeerReview
from domain.notifications.sql import insert_for

CHUNK = 1000        # awards written per statement (and per progress report of a backfill)


def badges_for(s: Session, course_id: str | None) -> list[Badge]:
    """The platform badges, and the course's own when the event names a course."""
    stmt = select(Badge).where(Badge.course_id.is_(None))
    if course_id:
        stmt = select(Badge).where((Badge.course_id.is_(None)) | (Badge.course_id == course_id))
    return list(s.scalars(stmt.order_by(Badge.slug)))


def write(s: Session, badge: Badge, earned: dict[str, int], *, backfilled: bool = False,
          now: datetime | None = None) -> list[dict]:
    """Insert the awards ``earned`` implies (``{user: times}``); returns the new ones only."""
    now = now or utcnow()
    rows = [{"id": new_id(), "badge_id": badge.id, "user_id": user, "scope": badge.course_id or PLATFORM,
             "occurrence": k, "earned_at": now, "backfilled": backfilled}
            for user, times in sorted(earned.items()) for k in range(1, times + 1)]
    new: list[dict] = []
    T = Award.__table__
    pg = s.get_bind().dialect.name == "postgresql"
    for i in range(0, len(rows), CHUNK):
        part = rows[i:i + CHUNK]
        if pg:      # one statement over arrays, not a multi-row VALUES
            found = s.execute(_UNNEST, {"ids": [r["id"] for r in part], "users": [r["user_id"] for r in part],
                                        "occurrences": [r["occurrence"] for r in part], "badge": badge.id,
                                        "scope": badge.course_id or PLATFORM, "now": now, "backfilled": backfilled})
        else:
            found = s.execute(insert_for(s, T).on_conflict_do_nothing()
                              .returning(T.c.id, T.c.user_id, T.c.occurrence), part)
        new += [{"award_id": a, "user_id": u, "occurrence": o} for a, u, o in found]
    return new


_UNNEST = text(
    "INSERT INTO achievement_awards (id, badge_id, user_id, scope, occurrence, earned_at, backfilled) "
    "SELECT t.id, :badge, t.user_id, :scope, t.occurrence, :now, :backfilled "
    "FROM unnest(CAST(:ids AS varchar[]), CAST(:users AS varchar[]), CAST(:occurrences AS int[])) "
    "AS t(id, user_id, occurrence) ON CONFLICT DO NOTHING RETURNING id, user_id, occurrence")


def revoke_unmet(s: Session, badge: Badge, users: list[str], earned: dict[str, int], now: datetime) -> int:
    """A revocable badge's awards beyond what the learners still earn (after a regrade) are revoked."""
    if not badge.revocable or not users:
        return 0
    revoked = 0
    for user in users:
        revoked += s.execute(update(Award).where(
            Award.badge_id == badge.id, Award.user_id == user, Award.scope == (badge.course_id or PLATFORM),
            Award.occurrence > earned.get(user, 0), Award.revoked_at.is_(None)).values(revoked_at=now)).rowcount
    return revoked


def evaluate_learners(s: Session, users: list[str], course_id: str | None = None,
                      now: datetime | None = None) -> tuple[list[dict], int]:
    """Every badge in reach for these learners: new awards (with their badge) and revocations."""
    now = now or utcnow()
    new, revoked = [], 0
    for badge in badges_for(s, course_id):
        rule = rules.parse(badge.criteria)
        earned = evaluate.qualifying(s, rule, course_id=badge.course_id, repeatable=badge.repeatable,
                                     users=users, now=now)
        new += [{**a, "badge": badge} for a in write(s, badge, earned, now=now)]
        revoked += revoke_unmet(s, badge, users, earned, now)
    return new, revoked


def recently_active(s: Session, since: datetime, after: str = "", limit: int = 1000) -> list[str]:
    """Learners with something new since ``since`` (learning events, grades, peer reviews), in id
    order after ``after``: the sweep's bounded batch."""
    days_ago = since.date()
    ids = set(s.scalars(select(LearningEvent.user_id).where(LearningEvent.local_day >= days_ago - timedelta(days=1),
                                                            LearningEvent.user_id > after).distinct()))
    ids |= set(s.scalars(select(CourseGrade.user_id).where(CourseGrade.computed_at >= since,
                                                           CourseGrade.user_id > after)))
    ids |= set(s.scalars(select(PeerReview.reviewer_id).where(PeerReview.completed_at >= since,
                                                              PeerReview.reviewer_id > after)))
    return sorted(ids)[:limit]


def earned_event(award: dict, badge: Badge, quiet: bool = False) -> dict:
    """The ``achievement.earned`` event's data (``quiet``: a backfill that sends no notification)."""
    return {"user_id": award["user_id"], "award_id": award["award_id"], "badge_id": badge.id,
            "badge_slug": badge.slug, "badge_name": badge.name, "course_id": badge.course_id,
            "occurrence": award["occurrence"], "quiet": quiet}
