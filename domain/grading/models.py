"""Grading tables: schemes, quizzes, assignments, peer reviews, the gradebook and course grades.

The web tier writes quizzes, assignments and attempts through ``domain.grading.authoring`` /
``domain.grading.submissions``; the grading jobs score them and keep ``grade_items`` (one
row per learner and graded thing) and ``course_grades`` (one row per learner and course).
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from domain.db import Base, new_id, utcnow


class GradingScheme(Base):
    """How a course grade is computed: ``categories`` = {name: {weight, drop_lowest, expected}}."""

    __tablename__ = "grading_schemes"
    course_id: Mapped[str] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"), primary_key=True)
    categories: Mapped[dict] = mapped_column()
    pass_threshold: Mapped[float] = mapped_column(Float, default=60.0)
    letters: Mapped[list] = mapped_column()          # [[min_percent, "A"], ...] highest first
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Quiz(Base):
    __tablename__ = "quizzes"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    course_id: Mapped[str] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"), index=True)
    lesson_id: Mapped[str | None] = mapped_column(ForeignKey("lessons.id", ondelete="SET NULL"), nullable=True)
    title: Mapped[str] = mapped_column(String(300))
    category: Mapped[str] = mapped_column(String(64), default="quiz")
    max_attempts: Mapped[int | None] = mapped_column(Integer, nullable=True)
    time_limit_seconds: Mapped[int | None] = mapped_column(Integer, nullable=True)
    attempt_policy: Mapped[str] = mapped_column(String(16), default="best")   # best | last | average


class QuizQuestion(Base):
    __tablename__ = "quiz_questions"
    __table_args__ = (UniqueConstraint("quiz_id", "position"),)
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    quiz_id: Mapped[str] = mapped_column(ForeignKey("quizzes.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    points: Mapped[float] = mapped_column(Float, default=1.0)
    spec: Mapped[dict] = mapped_column()             # a questions.QuestionSpec as JSON


class QuizAttempt(Base):
    __tablename__ = "quiz_attempts"
    __table_args__ = (UniqueConstraint("quiz_id", "user_id", "number"),)
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    quiz_id: Mapped[str] = mapped_column(ForeignKey("quizzes.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    submitted_at: Mapped[datetime | None] = mapped_column(nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="in_progress")   # in_progress | graded
    answers: Mapped[list | None] = mapped_column(nullable=True)
    results: Mapped[list | None] = mapped_column(nullable=True)   # per question: points, max, correct, feedback
    score: Mapped[float | None] = mapped_column(Float, nullable=True)
    max_score: Mapped[float | None] = mapped_column(Float, nullable=True)


class Assignment(Base):
    __tablename__ = "assignments"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    course_id: Mapped[str] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(300))
    category: Mapped[str] = mapped_column(String(64), default="assignment")
    rubric: Mapped[list] = mapped_column()            # [{id, title, levels: [{id, title, points}]}]
    due_at: Mapped[datetime | None] = mapped_column(nullable=True)
    late_policy: Mapped[dict] = mapped_column()      # policies.LatePolicy as JSON
    peer_weight: Mapped[float] = mapped_column(Float, default=0.0)   # share of the peer score in the grade


class Submission(Base):
    __tablename__ = "assignment_submissions"
    __table_args__ = (UniqueConstraint("assignment_id", "user_id"),)
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    assignment_id: Mapped[str] = mapped_column(ForeignKey("assignments.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(24), default="not_started")
    content: Mapped[str] = mapped_column(Text, default="")
    submitted_at: Mapped[datetime | None] = mapped_column(nullable=True)
    revision: Mapped[int] = mapped_column(Integer, default=0)
    rubric_choices: Mapped[dict | None] = mapped_column(nullable=True)   # {criterion_id: level_id}
    raw_score: Mapped[float | None] = mapped_column(Float, nullable=True)
    late_penalty_percent: Mapped[float | None] = mapped_column(Float, nullable=True)
    score: Mapped[float | None] = mapped_column(Float, nullable=True)
    max_score: Mapped[float | None] = mapped_column(Float, nullable=True)
    peer_score: Mapped[float | None] = mapped_column(Float, nullable=True)   # percent, mean of reviews
    feedback: Mapped[str] = mapped_column(Text, default="")
    graded_at: Mapped[datetime | None] = mapped_column(nullable=True)


class PeerReview(Base):
    __tablename__ = "peer_reviews"
    __table_args__ = (UniqueConstraint("submission_id", "reviewer_id"),)
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    submission_id: Mapped[str] = mapped_column(ForeignKey("assignment_submissions.id", ondelete="CASCADE"),
                                               index=True)
    reviewer_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    rating: Mapped[float | None] = mapped_column(Float, nullable=True)     # 0..5
    feedback: Mapped[str] = mapped_column(Text, default="")
    completed_at: Mapped[datetime | None] = mapped_column(nullable=True)


class GradeItem(Base):
    """The gradebook: one learner's score on one graded thing (quiz, assignment, code exercise)."""

    __tablename__ = "grade_items"
    __table_args__ = (UniqueConstraint("user_id", "course_id", "source_type", "source_id"),
                      Index("ix_grade_items_course_user", "course_id", "user_id"))
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(String(32))
    course_id: Mapped[str] = mapped_column(String(32))
    category: Mapped[str] = mapped_column(String(64))
    source_type: Mapped[str] = mapped_column(String(32))    # quiz | assignment | code_exercise
    source_id: Mapped[str] = mapped_column(String(64))
    score: Mapped[float] = mapped_column(Float)
    max_score: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class CourseGrade(Base):
    """A learner's course grade. ``dirty`` + ``generation`` coalesce recomputes (see recompute.py)."""

    __tablename__ = "course_grades"
    __table_args__ = (UniqueConstraint("user_id", "course_id"),
                      Index("ix_course_grades_course_id", "course_id"))
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(String(32))
    course_id: Mapped[str] = mapped_column(String(32))
    percent: Mapped[float | None] = mapped_column(Float, nullable=True)
    letter: Mapped[str | None] = mapped_column(String(8), nullable=True)
    passed: Mapped[bool] = mapped_column(Boolean, default=False)
    computed_at: Mapped[datetime | None] = mapped_column(nullable=True)
    dirty: Mapped[bool] = mapped_column(Boolean, default=False)
    generation: Mapped[int] = mapped_column(Integer, default=0)
