"""Notifications, their deliveries (one row per notification × recipient × channel),
preferences and email suppressions.

The in-app inbox is the ``in_app`` deliveries (``read_at``, ``expires_at``); the email
delivery log is the ``email`` deliveries (status, provider message id, last error).
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from domain.db import Base, JSONType, new_id, utcnow

# delivery statuses
PENDING, SENDING, SENT, FAILED, BOUNCED = "pending", "sending", "sent", "failed", "bounced"
SKIPPED, DIGEST, DIGESTED = "skipped", "digest", "digested"
STATUSES = (PENDING, SENDING, SENT, FAILED, BOUNCED, SKIPPED, DIGEST, DIGESTED)


class Notification(Base):
    """What is said once: to one user, or to every learner of a course (an announcement)."""

    __tablename__ = "notifications"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    type: Mapped[str] = mapped_column(String(48))
    priority: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text, default="")
    link: Mapped[str | None] = mapped_column(String(1000), nullable=True)
    data: Mapped[dict] = mapped_column(JSONType, default=dict)
    course_id: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(nullable=True)

    def to_dict(self) -> dict:
        return {"id": self.id, "type": self.type, "priority": self.priority, "title": self.title,
                "body": self.body, "link": self.link, "data": self.data, "course_id": self.course_id,
                "created_at": self.created_at.isoformat() if self.created_at else None,
                "expires_at": self.expires_at.isoformat() if self.expires_at else None}


class Delivery(Base):
    __tablename__ = "notification_deliveries"
    __table_args__ = (
        UniqueConstraint("notification_id", "user_id", "channel", name="uq_notification_deliveries_target"),
        Index("ix_notification_deliveries_inbox", "user_id", "channel", "read_at"),
        Index("ix_notification_deliveries_work", "notification_id", "channel", "status"),
        Index("ix_notification_deliveries_digest", "channel", "status", "user_id"),
    )
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    notification_id: Mapped[str] = mapped_column(ForeignKey("notifications.id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default=PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    provider: Mapped[str | None] = mapped_column(String(16), nullable=True)
    provider_message_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    claimed_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    claimed_at: Mapped[datetime | None] = mapped_column(nullable=True)
    next_attempt_at: Mapped[datetime | None] = mapped_column(nullable=True)   # a deferred recipient's next try
    sent_at: Mapped[datetime | None] = mapped_column(nullable=True)
    read_at: Mapped[datetime | None] = mapped_column(nullable=True)
    expires_at: Mapped[datetime | None] = mapped_column(nullable=True)
    digest_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Preference(Base):
    __tablename__ = "notification_preferences"
    __table_args__ = (UniqueConstraint("user_id", "type", "channel", name="uq_notification_preferences_key"),)
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    type: Mapped[str] = mapped_column(String(48))
    channel: Mapped[str] = mapped_column(String(16))
    mode: Mapped[str] = mapped_column(String(16))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Suppression(Base):
    """An address we must not email (hard bounce, complaint, global unsubscribe)."""

    __tablename__ = "email_suppressions"
    email: Mapped[str] = mapped_column(String(320), primary_key=True)
    reason: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ProviderEvent(Base):
    """An event an email provider reported later (a SendGrid Event Webhook post), kept by its id so
    a redelivered post changes nothing twice."""

    __tablename__ = "notification_provider_events"
    provider: Mapped[str] = mapped_column(String(16), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    type: Mapped[str] = mapped_column(String(32))
    email: Mapped[str | None] = mapped_column(String(320), nullable=True)
    delivery_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
