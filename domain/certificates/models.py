"""Certificate tables: one certificate per learner and course, and per-course issuing rules."""
from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from domain.db import Base, JSONType, utcnow

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"   # Crockford base32: no I, L, O, U


def new_certificate_id() -> str:
    """A public, unguessable, easy-to-read id such as ``CW-7K3M-9QXP-2D4F-H8RT`` (80 random bits)."""
    chars = "".join(secrets.choice(_ALPHABET) for _ in range(16))
    return "CW-" + "-".join(chars[i:i + 4] for i in range(0, 16, 4))


class Certificate(Base):
    __tablename__ = "certificates"
    __table_args__ = (UniqueConstraint("user_id", "course_id", name="uq_certificates_user_course"),
                      UniqueConstraint("status_list", "status_index", name="uq_certificates_status_slot"))
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_certificate_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    course_id: Mapped[str] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"), index=True)
    # pending (row claimed, files not yet stored) → issued → revoked
    status: Mapped[str] = mapped_column(String(16), default="pending")
    version: Mapped[int] = mapped_column(Integer, default=1)
    learner_name: Mapped[str] = mapped_column(String(200))
    course_title: Mapped[str] = mapped_column(String(300))
    instructor_name: Mapped[str] = mapped_column(String(200), default="")
    completed_at: Mapped[datetime] = mapped_column()
    grade_percent: Mapped[float | None] = mapped_column(Float, nullable=True)
    grade_letter: Mapped[str | None] = mapped_column(String(8), nullable=True)
    pdf_key: Mapped[str | None] = mapped_column(String(300), nullable=True)
    png_key: Mapped[str | None] = mapped_column(String(300), nullable=True)
    record: Mapped[dict | None] = mapped_column(JSONType, nullable=True)       # the signed document
    signature: Mapped[str | None] = mapped_column(String(200), nullable=True)  # base64url Ed25519
    key_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    issued_at: Mapped[datetime | None] = mapped_column(nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(nullable=True)
    revoke_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    # its bit in a W3C Bitstring Status List (status_list.py): list number, random index
    status_list: Mapped[int | None] = mapped_column(Integer, nullable=True)
    status_index: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    def to_dict(self) -> dict:
        return {
            "id": self.id, "user_id": self.user_id, "course_id": self.course_id, "status": self.status,
            "version": self.version, "learner_name": self.learner_name, "course_title": self.course_title,
            "instructor_name": self.instructor_name, "completed_at": _iso(self.completed_at),
            "grade_percent": self.grade_percent, "grade_letter": self.grade_letter,
            "pdf_key": self.pdf_key, "png_key": self.png_key, "issued_at": _iso(self.issued_at),
            "revoked_at": _iso(self.revoked_at), "revoke_reason": self.revoke_reason,
        }


class CertificateRule(Base):
    """How a course issues certificates. A course without a row uses the defaults (grade passes,
    every required lesson completed, grade not shown)."""

    __tablename__ = "certificate_rules"
    course_id: Mapped[str] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"), primary_key=True)
    enabled: Mapped[bool] = mapped_column(default=True)
    min_percent: Mapped[float | None] = mapped_column(Float, nullable=True)   # on top of "passed"
    required_lesson_ids: Mapped[list] = mapped_column(JSONType, default=list)  # e.g. quizzes marked optional
    show_grade: Mapped[bool] = mapped_column(default=False)
    page_size: Mapped[str | None] = mapped_column(String(8), nullable=True)    # A4 / Letter; None: setting


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None
