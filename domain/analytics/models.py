"""Analytics tables: the append-only learning events, the rollups computed from them, the
rollup watermark and the record of daily digests already sent.

Events carry their UTC ``day`` and the learner's ``local_day`` (stamped at ingestion from
``users.timezone``) so every rollup is a plain GROUP BY on PostgreSQL and SQLite alike.
"""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, Float, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from domain.db import Base, utcnow

SEQ = BigInteger().with_variant(Integer(), "sqlite")


class LearningEvent(Base):
    """One learning fact. Append-only; ``seq`` is the ingestion order the watermark follows."""

    __tablename__ = "learning_events"
    __table_args__ = (
        Index("ix_learning_events_course_day", "course_id", "day"),
        Index("ix_learning_events_user_local_day", "user_id", "local_day"),
        Index("ix_learning_events_topic_user", "topic", "user_id"),
    )
    seq: Mapped[int] = mapped_column(SEQ, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(64), unique=True)   # the sender's id: redelivery-safe
    type: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[str] = mapped_column(String(32))
    course_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    lesson_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    exercise_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    topic: Mapped[str | None] = mapped_column(String(64), nullable=True)
    coupon_code: Mapped[str | None] = mapped_column(String(64), nullable=True)
    seconds: Mapped[int | None] = mapped_column(Integer, nullable=True)
    score: Mapped[float | None] = mapped_column(Float, nullable=True)
    occurred_at: Mapped[datetime] = mapped_column()
    day: Mapped[date] = mapped_column(Date)          # UTC calendar day of occurred_at
    local_day: Mapped[date] = mapped_column(Date)    # the learner's calendar day of occurred_at
    ingested_at: Mapped[datetime] = mapped_column(default=utcnow)


class RollupState(Base):
    """The watermark: every event with ``seq <= last_seq`` is folded into the rollups."""

    __tablename__ = "analytics_rollup_state"
    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    last_seq: Mapped[int] = mapped_column(SEQ, default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class CourseDay(Base):
    __tablename__ = "analytics_course_day"
    course_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    enrollments: Mapped[int] = mapped_column(Integer, default=0)
    active_learners: Mapped[int] = mapped_column(Integer, default=0)
    lesson_completions: Mapped[int] = mapped_column(Integer, default=0)
    completing_learners: Mapped[int] = mapped_column(Integer, default=0)
    completion_rate: Mapped[float] = mapped_column(Float, default=0.0)   # completing / active learners
    quiz_count: Mapped[int] = mapped_column(Integer, default=0)
    avg_quiz_score: Mapped[float | None] = mapped_column(Float, nullable=True)
    seconds_watched: Mapped[int] = mapped_column(Integer, default=0)
    coupon_uses: Mapped[int] = mapped_column(Integer, default=0)
    certificates: Mapped[int] = mapped_column(Integer, default=0)


class LearnerDay(Base):
    """A learner's activity on one day of their own calendar (the basis of streaks)."""

    __tablename__ = "analytics_learner_day"
    __table_args__ = (Index("ix_analytics_learner_day_local_day", "local_day"),)
    user_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    local_day: Mapped[date] = mapped_column(Date, primary_key=True)
    events: Mapped[int] = mapped_column(Integer, default=0)
    lessons_completed: Mapped[int] = mapped_column(Integer, default=0)
    seconds_watched: Mapped[int] = mapped_column(Integer, default=0)


class LearnerStats(Base):
    __tablename__ = "analytics_learner_stats"
    user_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    first_active_day: Mapped[date] = mapped_column(Date)
    last_active_day: Mapped[date] = mapped_column(Date)
    current_streak: Mapped[int] = mapped_column(Integer, default=0)   # run of days ending at last_active_day
    longest_streak: Mapped[int] = mapped_column(Integer, default=0)
    active_days: Mapped[int] = mapped_column(Integer, default=0)
    lessons_completed: Mapped[int] = mapped_column(Integer, default=0)
    seconds_watched: Mapped[int] = mapped_column(Integer, default=0)


class TopicScore(Base):
    """Leaderboard per exercise topic: sum over exercises of the learner's best score."""

    __tablename__ = "analytics_topic_score"
    __table_args__ = (Index("ix_analytics_topic_score_rank", "topic", "points"),)
    topic: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    points: Mapped[float] = mapped_column(Float, default=0.0)
    exercises: Mapped[int] = mapped_column(Integer, default=0)
    submissions: Mapped[int] = mapped_column(Integer, default=0)


class PlatformDay(Base):
    """Platform totals per UTC day, summed from the course and learner rollups."""

    __tablename__ = "analytics_platform_day"
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    enrollments: Mapped[int] = mapped_column(Integer, default=0)
    lesson_completions: Mapped[int] = mapped_column(Integer, default=0)
    seconds_watched: Mapped[int] = mapped_column(Integer, default=0)
    coupon_uses: Mapped[int] = mapped_column(Integer, default=0)
    certificates: Mapped[int] = mapped_column(Integer, default=0)
    course_learner_days: Mapped[int] = mapped_column(Integer, default=0)   # sum of per-course active learners
    active_learners: Mapped[int] = mapped_column(Integer, default=0)       # learners active on that local date


class CoursePopularity(Base):
    """Trending over the last ``trending_window_days`` of data against the window before it."""

    __tablename__ = "analytics_course_popularity"
    course_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    window_end: Mapped[date] = mapped_column(Date)
    enrollments: Mapped[int] = mapped_column(Integer, default=0)
    active_learner_days: Mapped[int] = mapped_column(Integer, default=0)
    previous_active_learner_days: Mapped[int] = mapped_column(Integer, default=0)
    score: Mapped[float] = mapped_column(Float, default=0.0)
    trend: Mapped[float] = mapped_column(Float, default=0.0)    # growth against the previous window
    rank: Mapped[int] = mapped_column(Integer, default=0)


class LearnerDigest(Base):
    """One daily digest per learner per local date (the beat's exactly-once record)."""

    __tablename__ = "analytics_learner_digest"
    __table_args__ = (UniqueConstraint("user_id", "local_date"),)
    id: Mapped[int] = mapped_column(SEQ, primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(String(32), index=True)
    local_date: Mapped[date] = mapped_column(Date)
    sent_at: Mapped[datetime] = mapped_column(default=utcnow)
