"""Exercises, their test cases, submissions and each learner's progress on an exercise."""
from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Boolean, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from domain.db import Base, new_id, str_enum as _enum, utcnow


class Difficulty(str, enum.Enum):
    beginner = "beginner"
    intermediate = "intermediate"
    advanced = "advanced"


class SubmissionStatus(str, enum.Enum):
    queued = "queued"
    running = "running"
    graded = "graded"        # terminal: verdict, score and feedback are set
    cancelled = "cancelled"  # terminal: its job was cancelled before a grade
    error = "error"          # terminal: its job failed or was dead-lettered (not the learner's fault)


class Exercise(Base):
    __tablename__ = "exercises"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    difficulty: Mapped[Difficulty] = mapped_column(_enum(Difficulty, "exercise_difficulty"),
                                                   default=Difficulty.beginner)
    topic: Mapped[str] = mapped_column(String(120), default="")
    languages: Mapped[list] = mapped_column(default=list)          # ["python", "c", ...]
    starter_code: Mapped[dict] = mapped_column(default=dict)       # language -> code
    hints: Mapped[list] = mapped_column(default=list)
    reference_language: Mapped[str | None] = mapped_column(String(32), nullable=True)
    reference_solution: Mapped[str | None] = mapped_column(Text, nullable=True)   # never shown to learners
    time_limit_ms: Mapped[int] = mapped_column(Integer, default=2000)
    memory_limit_mb: Mapped[int] = mapped_column(Integer, default=256)
    lesson_id: Mapped[str | None] = mapped_column(ForeignKey("lessons.id", ondelete="SET NULL"), nullable=True,
                                                  index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    test_cases: Mapped[list["TestCase"]] = relationship(order_by="TestCase.position", cascade="all, delete-orphan",
                                                        back_populates="exercise")


class TestCase(Base):
    __tablename__ = "exercise_test_cases"
    __table_args__ = (UniqueConstraint("exercise_id", "position"),)
    __test__ = False    # not a pytest class
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    exercise_id: Mapped[str] = mapped_column(ForeignKey("exercises.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    stdin: Mapped[str] = mapped_column(Text, default="")
    expected_stdout: Mapped[str] = mapped_column(Text, default="")
    comparison: Mapped[str] = mapped_column(String(16), default="trimmed")   # exact / trimmed / numeric
    tolerance: Mapped[float] = mapped_column(Float, default=1e-6)
    hidden: Mapped[bool] = mapped_column(Boolean, default=False)
    weight: Mapped[int] = mapped_column(Integer, default=1)
    exercise: Mapped[Exercise] = relationship(back_populates="test_cases")


class Submission(Base):
    __tablename__ = "submissions"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    exercise_id: Mapped[str] = mapped_column(ForeignKey("exercises.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    language: Mapped[str] = mapped_column(String(32))
    code: Mapped[str] = mapped_column(Text)
    status: Mapped[SubmissionStatus] = mapped_column(_enum(SubmissionStatus, "submission_status"),
                                                     default=SubmissionStatus.queued)
    verdict: Mapped[str | None] = mapped_column(String(8), nullable=True)
    score: Mapped[int | None] = mapped_column(Integer, nullable=True)          # 0-100
    results: Mapped[list] = mapped_column(default=list)                        # per case, no case data
    feedback: Mapped[str] = mapped_column(Text, default="")
    compile_output: Mapped[str] = mapped_column(Text, default="")
    attempt: Mapped[int | None] = mapped_column(Integer, nullable=True)        # set when graded
    job_id: Mapped[str | None] = mapped_column(String(32), nullable=True, unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    graded_at: Mapped[datetime | None] = mapped_column(nullable=True)

    def public(self) -> dict:
        return {"id": self.id, "exercise_id": self.exercise_id, "user_id": self.user_id, "language": self.language,
                "status": self.status.value, "verdict": self.verdict, "score": self.score, "attempt": self.attempt,
                "results": self.results, "feedback": self.feedback, "compile_output": self.compile_output,
                "job_id": self.job_id, "created_at": self.created_at.isoformat(),
                "graded_at": self.graded_at.isoformat() if self.graded_at else None}


class ExerciseProgress(Base):
    __tablename__ = "exercise_progress"
    __table_args__ = (UniqueConstraint("user_id", "exercise_id"),)
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    exercise_id: Mapped[str] = mapped_column(ForeignKey("exercises.id", ondelete="CASCADE"), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    best_score: Mapped[int] = mapped_column(Integer, default=0)
    best_submission_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    completed_at: Mapped[datetime | None] = mapped_column(nullable=True)      # first time the score hit 100
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
