"""Course-grade recompute: one learner (the coalesced job) or a whole course in chunks (regrade).

Both run under the learners' gradebook locks (``gradebook.lock_learners``) and read the scheme
after taking them, so the last writer of a learner's grade always read what the previous one
committed. A regrade chunk rebuilds the chunk's items from their attempts and submissions
(``regrade.sync_items``), then recomputes the grades set-based: one query for the chunk's
items, one for its current grades, one bulk upsert for the grades that changed. Events are
handed to ``emit(name, data, user_id)`` inside the same unit of work as the change.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Callable, ContextManager, Iterator

from sqlalchemy import select, union
from sqlalchemy.orm import Session

from domain.core.models import Enrollment
from domain.db import new_id, utcnow
from domain.jobs.control import UNWATCHED, RunControl
from domain.grading import course_grades, quizzes, regrade
from domain.grading.gradebook import dialect_insert, lock_learners
from domain.grading.models import CourseGrade, GradeItem, GradingScheme

Emit = Callable[[str, dict, str | None], None]


def load_scheme(session: Session, course_id: str) -> course_grades.Scheme:
    row = session.get(GradingScheme, course_id)
    if row is None:
        return course_grades.DEFAULT_SCHEME
    return course_grades.Scheme(categories=row.categories, pass_threshold=row.pass_threshold, letters=row.letters)


def _in_chunk(column, user_ids: list[str]):
    """A sorted chunk as an id range (a short query plan and no 500 bound parameters)."""
    return column == user_ids[0] if len(user_ids) == 1 else column.between(user_ids[0], user_ids[-1])


def _items_by_user(session: Session, course_id: str, user_ids: list[str]) -> dict[str, list[course_grades.Item]]:
    """The items of a sorted chunk of the course's learners (every item holder is a learner)."""
    rows = session.execute(
        select(GradeItem.user_id, GradeItem.category, GradeItem.score, GradeItem.max_score)
        .where(GradeItem.course_id == course_id, _in_chunk(GradeItem.user_id, user_ids)))
    out: dict[str, list[course_grades.Item]] = defaultdict(list)
    for user_id, category, score, max_score in rows:
        out[user_id].append(course_grades.Item(category, score, max_score))
    return out


def _chunk_items(session: Session, course_id: str, user_ids: list[str]) -> regrade.Items:
    """Every item of a sorted chunk of the course's learners, keyed (user, source type, source id)."""
    return {(u, t, sid): (c, score, most) for u, t, sid, c, score, most in session.execute(
        select(GradeItem.user_id, GradeItem.source_type, GradeItem.source_id, GradeItem.category, GradeItem.score,
               GradeItem.max_score)
        .where(GradeItem.course_id == course_id, _in_chunk(GradeItem.user_id, user_ids)))}


def grade_events(user_id: str, course_id: str, old_percent: float | None, old_passed: bool,
                 grade: course_grades.Grade) -> list[tuple[str, dict]]:
    """``course_grade.changed`` when the percent moved; ``course.passed`` when it flipped to passed."""
    events: list[tuple[str, dict]] = []
    if old_percent is None or abs(old_percent - grade.percent) > 1e-9:
        events.append(("course_grade.changed", {"user_id": user_id, "course_id": course_id, "old": old_percent,
                                                "new": grade.percent, "letter": grade.letter}))
    if grade.passed and not old_passed:
        events.append(("course.passed", {"user_id": user_id, "course_id": course_id, "percent": grade.percent,
                                         "letter": grade.letter}))
    return events


def recompute_learner(session: Session, user_id: str, course_id: str, emit: Emit) -> dict:
    """The coalesced recompute: lock the row, clear ``dirty``, then read items and write the grade."""
    lock_learners(session, course_id, [user_id])
    row = session.scalar(select(CourseGrade).where(CourseGrade.user_id == user_id, CourseGrade.course_id == course_id)
                         .execution_options(populate_existing=True))
    row.dirty = False
    session.flush()
    grade = course_grades.compute(load_scheme(session, course_id),
                                  _items_by_user(session, course_id, [user_id]).get(user_id, []))
    events = grade_events(user_id, course_id, row.percent, bool(row.passed), grade)
    row.percent, row.letter, row.passed, row.computed_at = grade.percent, grade.letter, grade.passed, utcnow()
    for name, data in events:
        emit(name, data, user_id)
    return {"user_id": user_id, "course_id": course_id, "percent": grade.percent, "letter": grade.letter,
            "passed": grade.passed, "changed": bool(events)}


def course_learners(session: Session, course_id: str) -> list[str]:
    """Everyone enrolled in the course or holding a grade item in it, in the database's id order
    (the order its ``BETWEEN`` uses, whatever the collation)."""
    stmt = union(select(Enrollment.user_id).where(Enrollment.course_id == course_id),
                 select(GradeItem.user_id).where(GradeItem.course_id == course_id))
    return list(session.scalars(stmt.order_by("user_id")))


def chunks(values: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(values), size):
        yield values[start:start + size]


@dataclass
class ChunkResult:
    grades: list[dict] = field(default_factory=list)          # {user_id, old, new} per grade that changed
    items: list[regrade.ItemChange] = field(default_factory=list)
    rescored_attempts: int = 0


def regrade_chunk(session: Session, course_id: str, user_ids: list[str], emit: Emit,
                  rescore: bool = False) -> ChunkResult:
    """Lock a sorted chunk of learners, rescore their attempts (``rescore``), rebuild their items,
    recompute their grades; write and announce only what changed."""
    current = lock_learners(session, course_id, user_ids)
    scheme = load_scheme(session, course_id)
    result = ChunkResult()
    if rescore:
        result.rescored_attempts = quizzes.rescore_course_attempts(session, course_id, user_ids)
    chunk_items = _chunk_items(session, course_id, user_ids)
    result.items = regrade.sync_items(session, course_id, user_ids, chunk_items)
    regrade.apply(chunk_items, result.items)
    items: dict[str, list[course_grades.Item]] = defaultdict(list)
    for (user_id, _, _), (category, score, most) in chunk_items.items():
        items[user_id].append(course_grades.Item(category, score, most))
    now = utcnow()
    rows, pending_events = [], []
    for user_id in user_ids:
        grade = course_grades.compute(scheme, items.get(user_id, []))
        old = current.get(user_id)
        old_percent = old.percent if old else None
        if old is not None and old_percent is not None and abs(old_percent - grade.percent) <= 1e-9 \
                and bool(old.passed) == grade.passed and old.letter == grade.letter:
            continue
        rows.append({"id": new_id(), "user_id": user_id, "course_id": course_id, "percent": grade.percent,
                     "letter": grade.letter, "passed": grade.passed, "computed_at": now, "dirty": False,
                     "generation": 0})
        result.grades.append({"user_id": user_id, "old": old_percent, "new": grade.percent})
        pending_events.extend((user_id, e) for e in
                              grade_events(user_id, course_id, old_percent, bool(old and old.passed), grade))
    if rows:
        stmt = dialect_insert(session, CourseGrade)
        session.execute(stmt.on_conflict_do_update(
            index_elements=["user_id", "course_id"],
            set_={"percent": stmt.excluded.percent, "letter": stmt.excluded.letter, "passed": stmt.excluded.passed,
                  "computed_at": stmt.excluded.computed_at}), rows)
    for user_id, (name, data) in pending_events:
        emit(name, data, user_id)
    return result


def regrade_course(uow: Callable[[], ContextManager[Session]], course_id: str, chunk_size: int, emit_factory,
                   control: RunControl = UNWATCHED, rescore: bool = False, report_limit: int = 50) -> dict:
    """Recompute every learner of a course from their attempts and submissions, one unit of work
    per chunk; a rerun redoes nothing that is already right (unchanged items and grades are
    neither written nor announced). Reports the counts and the first ``report_limit`` changes."""
    with uow() as session:
        learners = course_learners(session, course_id)
    report = {"course_id": course_id, "learners": len(learners), "changed": 0, "items_changed": 0,
              "rescored_attempts": 0, "grade_changes": [], "item_changes": []}
    total = len(learners)
    for done, chunk in enumerate(chunks(learners, chunk_size), start=1):
        control.check_cancelled()
        with uow() as session:
            result = regrade_chunk(session, course_id, chunk, emit_factory(session), rescore=rescore)
        report["changed"] += len(result.grades)
        report["items_changed"] += len(result.items)
        report["rescored_attempts"] += result.rescored_attempts
        room = report_limit - len(report["grade_changes"])
        report["grade_changes"].extend(result.grades[:max(0, room)])
        room = report_limit - len(report["item_changes"])
        report["item_changes"].extend(c.to_dict() for c in result.items[:max(0, room)])
        processed = min(total, done * chunk_size)
        control.progress(100.0 * processed / max(1, total), f"{processed}/{total} learners")
    return report
