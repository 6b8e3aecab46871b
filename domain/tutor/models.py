"""Tutor tables: chat sessions, their messages, and the passage index of course content."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from domain.db import Base, new_id, utcnow

MODES = ("explain", "hint")
ROLES = ("user", "assistant", "system")
# assistant replies: pending (job queued) → streaming → complete | failed
REPLY_STATES = ("pending", "streaming", "complete", "failed")


class TutorSession(Base):
    __tablename__ = "tutor_sessions"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    course_id: Mapped[str] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"), index=True)
    lesson_id: Mapped[str | None] = mapped_column(ForeignKey("lessons.id", ondelete="SET NULL"), nullable=True)
    # the sandbox family's exercise (no foreign key: that table belongs to another family)
    exercise_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    topic: Mapped[str] = mapped_column(String(300), default="")
    mode: Mapped[str] = mapped_column(String(16), default="explain")
    status: Mapped[str] = mapped_column(String(16), default="active")   # active / ended
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(nullable=True)

    def to_dict(self) -> dict:
        return {"id": self.id, "user_id": self.user_id, "course_id": self.course_id, "lesson_id": self.lesson_id,
                "exercise_id": self.exercise_id, "topic": self.topic, "mode": self.mode, "status": self.status,
                "created_at": self.created_at.isoformat() if self.created_at else None,
                "ended_at": self.ended_at.isoformat() if self.ended_at else None}


class TutorMessage(Base):
    __tablename__ = "tutor_messages"
    __table_args__ = (Index("ix_tutor_messages_session_created", "session_id", "created_at"),)
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    session_id: Mapped[str] = mapped_column(ForeignKey("tutor_sessions.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(16))
    content: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default="complete")
    prompt_tokens: Mapped[int] = mapped_column(Integer, default=0)
    completion_tokens: Mapped[int] = mapped_column(Integer, default=0)
    citations: Mapped[list] = mapped_column(default=list)
    provider: Mapped[str] = mapped_column(String(64), default="")
    blocked: Mapped[bool] = mapped_column(default=False)       # hint guard rewrote the reply
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    job_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(nullable=True)

    def to_dict(self) -> dict:
        return message_dict(self)


def message_dict(m) -> dict:
    """A message as the API shows it; ``m`` is a ``TutorMessage`` or any row with its columns."""
    return {"id": m.id, "session_id": m.session_id, "role": m.role, "content": m.content,
            "status": m.status, "prompt_tokens": m.prompt_tokens,
            "completion_tokens": m.completion_tokens, "citations": m.citations or [],
            "provider": m.provider, "blocked": m.blocked, "error": m.error, "job_id": m.job_id,
            "created_at": m.created_at.isoformat() if m.created_at else None,
            "completed_at": m.completed_at.isoformat() if m.completed_at else None}


class TutorPassage(Base):
    """A slice of a lesson's content, the unit of retrieval and citation."""

    __tablename__ = "tutor_passages"
    __table_args__ = (UniqueConstraint("lesson_id", "position"),)
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    course_id: Mapped[str] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"), index=True)
    lesson_id: Mapped[str] = mapped_column(ForeignKey("lessons.id", ondelete="CASCADE"))
    lesson_title: Mapped[str] = mapped_column(String(300))
    position: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(String(64))    # of the whole lesson content it came from
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class TutorCourseIndex(Base):
    """When a course's passages were last built (the reply job indexes a course never indexed)."""

    __tablename__ = "tutor_course_index"
    course_id: Mapped[str] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"), primary_key=True)
    passage_count: Mapped[int] = mapped_column(Integer, default=0)
    lesson_count: Mapped[int] = mapped_column(Integer, default=0)
    indexed_at: Mapped[datetime] = mapped_column(default=utcnow)
