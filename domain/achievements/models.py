"""Badge definitions (data, not code) and the awards learners earned."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from domain.db import Base, new_id, utcnow

PLATFORM = ""       # the scope key of a platform-wide badge's awards (a course badge's: the course id)


class Badge(Base):
    __tablename__ = "achievement_badges"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    slug: Mapped[str] = mapped_column(String(64), unique=True)          # e.g. seven_day_streak (the badgeType)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    image_url: Mapped[str | None] = mapped_column(String(1000), nullable=True)
    course_id: Mapped[str | None] = mapped_column(String(32), nullable=True)   # None: platform-wide
    criteria: Mapped[dict] = mapped_column()                              # the rule (domain.achievements.rules)
    repeatable: Mapped[bool] = mapped_column(Boolean, default=False)       # earned again at each multiple
    revocable: Mapped[bool] = mapped_column(Boolean, default=False)        # a later change (regrade) can revoke it
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    def to_dict(self) -> dict:
        return {"id": self.id, "slug": self.slug, "name": self.name, "description": self.description,
                "image_url": self.image_url, "course_id": self.course_id, "criteria": self.criteria,
                "repeatable": self.repeatable, "revocable": self.revocable,
                "created_at": self.created_at.isoformat()}


class Award(Base):
    """One badge earned by one learner (in one course for a course badge), once per occurrence:
    the unique key makes an award exactly-once under redelivery, concurrent events and sweeps."""

    __tablename__ = "achievement_awards"
    __table_args__ = (UniqueConstraint("badge_id", "user_id", "scope", "occurrence", name="uq_achievement_awards"),
                      UniqueConstraint("status_list", "status_index", name="uq_achievement_awards_status_slot"),
                      Index("ix_achievement_awards_user", "user_id"))
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    badge_id: Mapped[str] = mapped_column(ForeignKey("achievement_badges.id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(String(32))
    scope: Mapped[str] = mapped_column(String(32), default=PLATFORM)
    occurrence: Mapped[int] = mapped_column(Integer, default=1)
    earned_at: Mapped[datetime] = mapped_column(default=utcnow)
    backfilled: Mapped[bool] = mapped_column(Boolean, default=False)
    revoked_at: Mapped[datetime | None] = mapped_column(nullable=True)
    # its bit in a W3C Bitstring Status List, given when its credential is first exported
    status_list: Mapped[int | None] = mapped_column(Integer, nullable=True)
    status_index: Mapped[int | None] = mapped_column(Integer, nullable=True)
