"""Rebuilding a chunk of learners' gradebook items from what they derive from, set-based.

A quiz item is its graded attempts combined by the quiz's attempt policy
(``quizzes.counted_score``); an assignment item is its submission's last grading blended with
the peer score (``policies.assignment_points``). ``sync_items`` reads the chunk's attempts,
submissions and items in three statements, then writes only the items that differ (and removes
quiz / assignment items whose source is gone), so a regrade repairs any drift. Code-exercise
items are kept as recorded (their source is the sandbox's events). The caller holds the chunk's
learner locks (``gradebook.lock_learners``) and hands in the chunk's items as it read them.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, delete, or_, select
from sqlalchemy.orm import Session

from domain.db import new_id, utcnow
from domain.grading import policies
from domain.grading.gradebook import dialect_insert
from domain.grading.models import Assignment, GradeItem, Quiz, QuizAttempt, Submission
from domain.grading.quizzes import counted_score

REBUILT = ("quiz", "assignment")
EPSILON = 1e-9


@dataclass(frozen=True)
class ItemChange:
    user_id: str
    source_type: str
    source_id: str
    old: float | None       # points before (None: the item was missing)
    new: float | None       # points after (None: the item was removed)
    category: str = ""
    max_score: float = 0.0

    def to_dict(self) -> dict:
        return {"user_id": self.user_id, "source_type": self.source_type, "source_id": self.source_id,
                "old": self.old, "new": self.new}


Key = tuple[str, str, str]   # (user_id, source_type, source_id)
Items = dict[Key, tuple[str, float, float]]   # key → (category, score, max_score)


def _quiz_items(session: Session, course_id: str, user_ids: list[str]) -> dict[Key, tuple[str, float, float]]:
    rows = session.execute(
        select(QuizAttempt.user_id, QuizAttempt.quiz_id, QuizAttempt.score, QuizAttempt.max_score,
               Quiz.attempt_policy, Quiz.category)
        .join(Quiz, Quiz.id == QuizAttempt.quiz_id)
        .where(Quiz.course_id == course_id, QuizAttempt.user_id.in_(user_ids), QuizAttempt.status == "graded")
        .order_by(QuizAttempt.user_id, QuizAttempt.quiz_id, QuizAttempt.number))
    grouped: dict[tuple[str, str], tuple[str, str, list]] = {}
    for user_id, quiz_id, score, max_score, policy, category in rows:
        grouped.setdefault((user_id, quiz_id), (policy, category, []))[2].append((score, max_score))
    out = {}
    for (user_id, quiz_id), (policy, category, attempts) in grouped.items():
        score, maximum = counted_score(policy, attempts)
        out[(user_id, "quiz", quiz_id)] = (category, score, maximum)
    return out


def _assignment_items(session: Session, course_id: str, user_ids: list[str]) -> dict[Key, tuple[str, float, float]]:
    rows = session.execute(
        select(Submission.user_id, Submission.assignment_id, Submission.score, Submission.max_score,
               Submission.peer_score, Assignment.peer_weight, Assignment.category)
        .join(Assignment, Assignment.id == Submission.assignment_id)
        .where(Assignment.course_id == course_id, Submission.user_id.in_(user_ids), Submission.score.is_not(None)))
    return {(user_id, "assignment", assignment_id):
            (category, policies.assignment_points(score, max_score, peer_score, peer_weight), max_score)
            for user_id, assignment_id, score, max_score, peer_score, peer_weight, category in rows}


def _differs(a: tuple[str, float, float], b: tuple[str, float, float]) -> bool:
    return a[0] != b[0] or abs(a[1] - b[1]) > EPSILON or abs(a[2] - b[2]) > EPSILON


def sync_items(session: Session, course_id: str, user_ids: list[str], items: Items) -> list[ItemChange]:
    """Make the chunk's quiz and assignment items equal to what their sources say, given the
    chunk's ``items`` as read under the lock. Returns the changes (the caller applies them to
    its copy with ``apply``)."""
    if not user_ids:
        return []
    wanted = _quiz_items(session, course_id, user_ids) | _assignment_items(session, course_id, user_ids)
    have = {key: value for key, value in items.items() if key[1] in REBUILT}
    changes, rows = [], []
    now = utcnow()
    for key, value in wanted.items():
        old = have.get(key)
        if old is None or _differs(old, value):
            changes.append(ItemChange(*key, old=old[1] if old else None, new=value[1], category=value[0],
                                      max_score=value[2]))
            rows.append({"id": new_id(), "user_id": key[0], "course_id": course_id, "source_type": key[1],
                         "source_id": key[2], "category": value[0], "score": value[1], "max_score": value[2],
                         "updated_at": now})
    orphans = sorted(key for key in have if key not in wanted)
    changes.extend(ItemChange(*key, old=have[key][1], new=None) for key in orphans)
    if rows:
        stmt = dialect_insert(session, GradeItem)
        session.execute(stmt.on_conflict_do_update(
            index_elements=["user_id", "course_id", "source_type", "source_id"],
            set_={"score": stmt.excluded.score, "max_score": stmt.excluded.max_score,
                  "category": stmt.excluded.category, "updated_at": stmt.excluded.updated_at}), rows)
    if orphans:
        session.execute(delete(GradeItem).where(GradeItem.course_id == course_id, or_(*(
            and_(GradeItem.user_id == u, GradeItem.source_type == t, GradeItem.source_id == s) for u, t, s in orphans))))
    return changes


def apply(items: Items, changes: list[ItemChange]) -> None:
    """Bring a copy of the items up to date with ``sync_items``' changes."""
    for c in changes:
        key = (c.user_id, c.source_type, c.source_id)
        if c.new is None:
            items.pop(key, None)
        else:
            items[key] = (c.category, c.new, c.max_score)
