"""Read side: what the analytics endpoints and reports return. Rollup tables only — a request
never scans raw learning events."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from domain.analytics import streaks
from domain.analytics.models import (CourseDay, CoursePopularity, LearnerDay, LearnerStats, PlatformDay,
                                     RollupState, TopicScore)
from domain.core.models import User

COURSE_FIELDS = ("enrollments", "active_learners", "lesson_completions", "completing_learners", "completion_rate",
                 "quiz_count", "avg_quiz_score", "seconds_watched", "coupon_uses", "certificates")


def _zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except Exception:
        return ZoneInfo("UTC")


def watermark(s: Session) -> dict:
    st = s.get(RollupState, "rollup")
    return {"last_seq": st.last_seq if st else 0, "updated_at": st.updated_at.isoformat() if st else None}


def course(s: Session, course_id: str, start: date | None = None, end: date | None = None) -> dict | None:
    q = select(CourseDay).where(CourseDay.course_id == course_id)
    if start:
        q = q.where(CourseDay.day >= start)
    if end:
        q = q.where(CourseDay.day <= end)
    days = list(s.scalars(q.order_by(CourseDay.day)))
    pop = s.get(CoursePopularity, course_id)
    if not days and pop is None:
        return None
    rows = [{"day": d.day.isoformat(), **{f: getattr(d, f) for f in COURSE_FIELDS}} for d in days]
    quiz_n = sum(d.quiz_count for d in days)
    totals = {
        "enrollments": sum(d.enrollments for d in days),
        "active_learner_days": sum(d.active_learners for d in days),
        "lesson_completions": sum(d.lesson_completions for d in days),
        "minutes_watched": round(sum(d.seconds_watched for d in days) / 60, 1),
        "coupon_uses": sum(d.coupon_uses for d in days),
        "certificates": sum(d.certificates for d in days),
        "avg_quiz_score": (round(sum((d.avg_quiz_score or 0) * d.quiz_count for d in days) / quiz_n, 2)
                           if quiz_n else None),
    }
    popularity = None
    if pop is not None:
        popularity = {"rank": pop.rank, "score": pop.score, "trend": pop.trend, "window_end": pop.window_end.isoformat(),
                      "enrollments": pop.enrollments, "active_learner_days": pop.active_learner_days,
                      "previous_active_learner_days": pop.previous_active_learner_days}
    return {"course_id": course_id, "days": rows, "totals": totals, "popularity": popularity,
            "rollup": watermark(s)}


def week_minutes(s: Session, user_id: str, today: date) -> float:
    week_start = today - timedelta(days=today.weekday())
    seconds = s.scalar(select(func.coalesce(func.sum(LearnerDay.seconds_watched), 0))
                       .where(LearnerDay.user_id == user_id, LearnerDay.local_day >= week_start,
                              LearnerDay.local_day <= today))
    return round(int(seconds) / 60, 1)


def learner(s: Session, user_id: str, now: datetime | None = None) -> dict | None:
    st = s.get(LearnerStats, user_id)
    user = s.get(User, user_id)
    if st is None and user is None:
        return None
    tz = user.timezone if user else "UTC"
    today = (now or datetime.now(timezone.utc)).astimezone(_zone(tz)).date()
    goal = user.weekly_goal_minutes if user else 0
    minutes = week_minutes(s, user_id, today)
    out = {"user_id": user_id, "timezone": tz, "local_date": today.isoformat(),
           "current_streak": streaks.live_streak(st.current_streak, st.last_active_day, today) if st else 0,
           "longest_streak": st.longest_streak if st else 0,
           "last_active_day": st.last_active_day.isoformat() if st else None,
           "active_days": st.active_days if st else 0,
           "lessons_completed": st.lessons_completed if st else 0,
           "minutes_watched": round(st.seconds_watched / 60, 1) if st else 0.0,
           "week": {"minutes": minutes, "goal_minutes": goal,
                    "progress": round(minutes / goal, 3) if goal else None},
           "rollup": watermark(s)}
    return out


def leaderboard(s: Session, topic: str, limit: int = 20) -> dict:
    rows = s.scalars(select(TopicScore).where(TopicScore.topic == topic)
                     .order_by(TopicScore.points.desc(), TopicScore.exercises.desc(), TopicScore.user_id).limit(limit))
    return {"topic": topic, "entries": [{"rank": i, "user_id": r.user_id, "points": r.points,
                                         "exercises": r.exercises, "submissions": r.submissions}
                                        for i, r in enumerate(rows, 1)],
            "rollup": watermark(s)}


def topics(s: Session) -> list[str]:
    return list(s.scalars(select(TopicScore.topic).distinct().order_by(TopicScore.topic)))


def platform(s: Session, start: date | None = None, end: date | None = None) -> dict:
    q = select(PlatformDay)
    if start:
        q = q.where(PlatformDay.day >= start)
    if end:
        q = q.where(PlatformDay.day <= end)
    days = list(s.scalars(q.order_by(PlatformDay.day)))
    fields = ("enrollments", "lesson_completions", "seconds_watched", "coupon_uses", "certificates",
              "active_learners", "course_learner_days")
    return {"days": [{"day": d.day.isoformat(), **{f: getattr(d, f) for f in fields}} for d in days],
            "totals": {f: sum(getattr(d, f) for d in days) for f in fields},
            "rollup": watermark(s)}


def popular_courses(s: Session, limit: int = 20) -> list[dict]:
    return [{"rank": p.rank, "course_id": p.course_id, "score": p.score, "trend": p.trend}
            for p in s.scalars(select(CoursePopularity).order_by(CoursePopularity.rank).limit(limit))]
