"""The gradebook: upserting grade items and coalescing course-grade recomputes.

Coalescing: a grade change marks the learner's ``course_grades`` row dirty. Only the change
that flips it from clean to dirty (an atomic ``UPDATE ... WHERE dirty = false RETURNING``)
enqueues a ``recompute_course_grade`` job, due ``grading_recompute_delay`` seconds later, keyed
by the row's new generation; changes while it is pending find the row already dirty and add
nothing. The recompute clears ``dirty`` under a row lock before it reads the items, so a change
that lands during a recompute makes the row dirty again and schedules one more.

Serialising: every job that reads and then writes a learner's gradebook in a course (grading an
attempt, a submission, a peer review, a code score, a recompute, a regrade chunk) first takes
``lock_learners`` on the learner's ``course_grades`` row, and only then reads what it derives
the items from. Two jobs of the same learner therefore run one after the other, each reading
what the other committed: any interleaving leaves the gradebook as grading one by one would.
"""
from __future__ import annotations

from datetime import timedelta

from typing import Iterable

from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from domain.db import new_id, utcnow
from domain.grading.models import CourseGrade, GradeItem

RECOMPUTE_KIND = "recompute_course_grade"


def dialect_insert(session: Session, model):
    """``INSERT`` with ``on_conflict_*`` for the session's dialect (PostgreSQL or SQLite)."""
    name = session.get_bind().dialect.name
    return (postgresql.insert if name == "postgresql" else sqlite.insert)(model)


def lock_learners(session: Session, course_id: str, user_ids: Iterable[str]) -> dict:
    """Lock the learners' gradebook in the course until the transaction ends, and return their
    ``course_grades`` rows as they are now ({user_id: row with percent, letter, passed}).

    ``SELECT ... FOR UPDATE`` in id order (so chunks and single learners never wait on each other
    in a cycle); rows that do not exist yet are inserted, then locked the same way. On SQLite (the
    demo) the insert or the caller's first write takes the database's single write lock, which
    serialises writers the same way.
    """
    ids = sorted(set(user_ids))
    if not ids:
        return {}

    def locked(which: list[str]) -> dict:
        return {r.user_id: r for r in session.execute(
            select(CourseGrade.user_id, CourseGrade.percent, CourseGrade.letter, CourseGrade.passed)
            .where(CourseGrade.course_id == course_id, CourseGrade.user_id.in_(which))
            .order_by(CourseGrade.user_id).with_for_update())}

    def insert(which: list[str]) -> None:
        session.execute(dialect_insert(session, CourseGrade).on_conflict_do_nothing(
            index_elements=["user_id", "course_id"]),
            [{"id": new_id(), "user_id": u, "course_id": course_id, "passed": False, "dirty": False, "generation": 0}
             for u in which])

    if session.get_bind().dialect.name != "postgresql":
        insert(ids)                      # a write first: it takes the lock before anything is read
        return locked(ids)
    rows = locked(ids)
    missing = [u for u in ids if u not in rows]
    if missing:
        insert(missing)
        rows |= locked(missing)
    return rows


def upsert_item(session: Session, *, user_id: str, course_id: str, category: str, source_type: str,
                source_id: str, score: float, max_score: float, keep_best: bool = False) -> None:
    stmt = dialect_insert(session, GradeItem).values(
        id=new_id(), user_id=user_id, course_id=course_id, category=category, source_type=source_type,
        source_id=source_id, score=score, max_score=max_score, updated_at=utcnow())
    best = func.greatest if session.get_bind().dialect.name == "postgresql" else func.max
    new_score = best(GradeItem.score, stmt.excluded.score) if keep_best else stmt.excluded.score
    session.execute(stmt.on_conflict_do_update(
        index_elements=["user_id", "course_id", "source_type", "source_id"],
        set_={"score": new_score, "max_score": stmt.excluded.max_score, "category": stmt.excluded.category,
              "updated_at": stmt.excluded.updated_at}))


def mark_dirty(session: Session, user_id: str, course_id: str) -> int | None:
    """Mark the learner's course grade stale. Returns the new generation when this call made
    it dirty (the caller schedules one recompute), None when a recompute is already pending."""
    session.execute(dialect_insert(session, CourseGrade).values(
        id=new_id(), user_id=user_id, course_id=course_id, passed=False, dirty=False, generation=0,
    ).on_conflict_do_nothing(index_elements=["user_id", "course_id"]))
    result = session.execute(
        update(CourseGrade)
        .where(CourseGrade.user_id == user_id, CourseGrade.course_id == course_id, CourseGrade.dirty.is_(False))
        .values(dirty=True, generation=CourseGrade.generation + 1)
        .returning(CourseGrade.generation)
        .execution_options(synchronize_session=False))
    return result.scalar_one_or_none()


def schedule_recompute(session: Session, user_id: str, course_id: str, delay_seconds: float) -> str | None:
    """Mark dirty and, when this call made it dirty, enqueue the one delayed recompute.
    Returns the new job id or None (already pending)."""
    from domain.jobs import enqueueing

    generation = mark_dirty(session, user_id, course_id)
    if generation is None:
        return None
    job, _ = enqueueing.enqueue(
        session, RECOMPUTE_KIND, {"user_id": user_id, "course_id": course_id, "generation": generation},
        caller="system", idempotency_key=f"grading.recompute:{course_id}:{user_id}:{generation}",
        run_at=utcnow() + timedelta(seconds=delay_seconds), check_data=False)
    return job.id


def record_code_score(session: Session, *, user_id: str, course_id: str, exercise_id: str, score: float,
                      max_score: float) -> None:
    """A code exercise's score; the best submission counts."""
    lock_learners(session, course_id, [user_id])
    upsert_item(session, user_id=user_id, course_id=course_id, category="code", source_type="code_exercise",
                source_id=exercise_id, score=min(score, max_score), max_score=max_score, keep_best=True)
