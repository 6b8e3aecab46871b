"""Daily learner digests at a local time of day, fired once per learner per local date.

Beat runs in UTC every few minutes; the conversion to each learner's zone happens here. A
learner is due once their local clock has passed the digest time on a local date that has no
digest yet, so a skipped hour (spring forward) still fires and a repeated hour (fall back)
fires only once: the ``analytics_learner_digest`` row is the exactly-once record.
"""
from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from domain.analytics import queries, streaks
from domain.analytics.models import LearnerDigest, LearnerStats
from domain.core.models import User
from domain.jobs import enqueueing

EVENT = "learner.daily_digest"


def parse_local_time(text: str) -> time:
    return time.fromisoformat(text)


def due_local_date(now_utc: datetime, tz: str, at: time) -> date | None:
    """The learner's local date if their local clock is at or past ``at``, else None."""
    try:
        zone = ZoneInfo(tz)
    except Exception:
        zone = ZoneInfo("UTC")
    local = now_utc.astimezone(zone)
    return local.date() if local.time().replace(tzinfo=None) >= at else None


def send_due(s: Session, now_utc: datetime, at: time, batch: int = 500) -> list[dict]:
    """Record and emit the digests that are due now (a bounded batch). Returns what was sent."""
    sent: list[dict] = []
    for tz in sorted(set(s.scalars(select(User.timezone).distinct()))):
        local_date = due_local_date(now_utc, tz, at)
        if local_date is None:
            continue
        users = s.scalars(select(User).where(User.timezone == tz, ~exists().where(
            LearnerDigest.user_id == User.id, LearnerDigest.local_date == local_date))
            .order_by(User.id).limit(batch - len(sent)))
        for user in users:
            s.add(LearnerDigest(user_id=user.id, local_date=local_date, sent_at=now_utc))
            st = s.get(LearnerStats, user.id)
            data = {"user_id": user.id, "local_date": local_date.isoformat(), "timezone": tz,
                    "current_streak": streaks.live_streak(st.current_streak, st.last_active_day, local_date)
                    if st else 0,
                    "minutes_this_week": queries.week_minutes(s, user.id, local_date),
                    "weekly_goal_minutes": user.weekly_goal_minutes}
            enqueueing.emit(s, None, EVENT, data, user_id=user.id)
            sent.append(data)
        s.flush()
        if len(sent) >= batch:
            break
    return sent
