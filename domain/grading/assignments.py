"""Assignment submissions, rubric grading with late penalties, and peer reviews.

Lifecycle: not_started → in_progress → submitted → graded; an instructor may ask for a
revision (submitted → revision_requested), the learner resubmits (→ submitted, revision + 1).
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from domain.db import new_id, utcnow
from domain.grading import peers, policies
from domain.grading.gradebook import dialect_insert, lock_learners, upsert_item
from domain.grading.models import Assignment, PeerReview, Submission
from domain.grading.rubrics import Rubric, RubricError, score_rubric
from domain.jobs.errors import InvalidPayload

GRADABLE = ("submitted", "graded")


class SubmissionClosed(InvalidPayload):
    """After the hard deadline (a permanent error; 422 at intake)."""

    code = "submission_closed"


class WrongState(InvalidPayload):
    code = "wrong_state"


def _rubric(assignment: Assignment) -> Rubric:
    return Rubric.model_validate({"criteria": assignment.rubric})


def _policy(assignment: Assignment) -> policies.LatePolicy:
    return policies.LatePolicy.model_validate(assignment.late_policy or {})


def _get_or_create(session: Session, assignment_id: str, user_id: str) -> Submission:
    sub = session.scalar(select(Submission).where(Submission.assignment_id == assignment_id,
                                                  Submission.user_id == user_id).with_for_update())
    if sub is None:
        sub = Submission(id=new_id(), assignment_id=assignment_id, user_id=user_id, status="not_started")
        session.add(sub)
        session.flush()
    return sub


def start(session: Session, assignment_id: str, user_id: str) -> Submission:
    sub = _get_or_create(session, assignment_id, user_id)
    if sub.status == "not_started":
        sub.status = "in_progress"
    return sub


def submit(session: Session, assignment_id: str, user_id: str, content: str, now: datetime | None = None) -> Submission:
    """Hand in (or resubmit after a revision request). Refused after the hard cut-off."""
    now = now or utcnow()
    assignment = session.get(Assignment, assignment_id)
    if assignment is None:
        raise InvalidPayload("assignment_id", f"no assignment {assignment_id!r}")
    if policies.past_hard_cutoff(assignment.due_at, _policy(assignment), now):
        cutoff = policies.hard_cutoff(assignment.due_at, _policy(assignment))
        raise SubmissionClosed("submitted_at", f"submissions closed at {cutoff.isoformat()} (the hard deadline)")
    sub = _get_or_create(session, assignment_id, user_id)
    if sub.status in ("not_started", "in_progress"):
        pass
    elif sub.status == "revision_requested":
        sub.revision += 1
    else:
        raise WrongState("assignment_id",
                         f"the submission is {sub.status}; it can be resubmitted only after a revision request")
    sub.status, sub.content, sub.submitted_at = "submitted", content, now
    session.flush()
    return sub


def check_grading(session: Session, submission_id: str, choices: dict[str, str]) -> tuple[Submission, Assignment]:
    sub = session.get(Submission, submission_id)
    if sub is None:
        raise InvalidPayload("submission_id", f"no submission {submission_id!r}")
    if sub.status not in GRADABLE:
        raise InvalidPayload("submission_id", f"the submission is {sub.status}, not submitted")
    assignment = session.get(Assignment, sub.assignment_id)
    if policies.past_hard_cutoff(assignment.due_at, _policy(assignment), sub.submitted_at):
        raise SubmissionClosed("submission_id", "it was submitted after the hard deadline and cannot be graded")
    try:
        score_rubric(_rubric(assignment), choices)
    except RubricError as exc:
        raise InvalidPayload(exc.field, exc.message) from None
    return sub, assignment


def _final_points(sub: Submission, assignment: Assignment) -> float:
    return policies.assignment_points(sub.score, sub.max_score, sub.peer_score, assignment.peer_weight)


def _put_in_gradebook(session: Session, sub: Submission, assignment: Assignment) -> None:
    upsert_item(session, user_id=sub.user_id, course_id=assignment.course_id, category=assignment.category,
                source_type="assignment", source_id=assignment.id, score=_final_points(sub, assignment),
                max_score=sub.max_score)


def _lock_author(session: Session, submission_id: str) -> None:
    """Take the submission author's gradebook lock before anything of theirs is read."""
    author = session.execute(select(Submission.user_id, Assignment.course_id)
                             .join(Assignment, Assignment.id == Submission.assignment_id)
                             .where(Submission.id == submission_id)).first()
    if author is not None:
        lock_learners(session, author.course_id, [author.user_id])


def grade(session: Session, submission_id: str, choices: dict[str, str], feedback: str,
          request_revision: bool) -> dict:
    _lock_author(session, submission_id)
    sub, assignment = check_grading(session, submission_id, choices)
    if sub.status == "graded" and sub.rubric_choices == choices and sub.feedback == feedback and not request_revision:
        return {"submission_id": sub.id, "already_graded": True, "score": sub.score, "events": [],
                "user_id": sub.user_id, "course_id": assignment.course_id}
    sub.feedback = feedback
    if request_revision:
        sub.status = "revision_requested"
        return {"submission_id": sub.id, "status": sub.status, "events": [], "user_id": sub.user_id,
                "course_id": assignment.course_id, "gradebook_changed": False}
    raw, maximum = score_rubric(_rubric(assignment), choices)
    penalty = policies.late_penalty_percent(assignment.due_at, _policy(assignment), sub.submitted_at)
    sub.rubric_choices, sub.raw_score, sub.max_score = dict(choices), raw, maximum
    sub.late_penalty_percent, sub.score = penalty, policies.apply_penalty(raw, penalty)
    sub.status, sub.graded_at = "graded", utcnow()
    session.flush()
    _put_in_gradebook(session, sub, assignment)
    pct = round(100.0 * _final_points(sub, assignment) / maximum, 4) if maximum else 100.0
    event = {"user_id": sub.user_id, "course_id": assignment.course_id, "assignment_id": assignment.id,
             "submission_id": sub.id, "score_pct": pct}
    return {"submission_id": sub.id, "status": sub.status, "raw_score": raw, "late_penalty_percent": penalty,
            "score": sub.score, "max_score": maximum, "score_pct": pct, "user_id": sub.user_id,
            "course_id": assignment.course_id, "gradebook_changed": True, "events": [("assignment.graded", event)]}


def assign_reviews(session: Session, assignment_id: str, k: int) -> dict:
    """Give each handed-in submission at least k reviewers among the other submitters, keeping
    the pairs that exist (see peers.py). One run at a time per assignment (its row is locked);
    a rerun with nothing new adds nothing. The result is counted from the database."""
    if session.get(Assignment, assignment_id, with_for_update=True) is None:
        raise InvalidPayload("assignment_id", f"no assignment {assignment_id!r}")
    subs = {s.user_id: s.id for s in session.scalars(select(Submission).where(
        Submission.assignment_id == assignment_id, Submission.submitted_at.is_not(None)))}
    author_of = {sub_id: user for user, sub_id in subs.items()}
    existing: dict[str, list[str]] = {}
    for sub_id, reviewer in session.execute(
            select(PeerReview.submission_id, PeerReview.reviewer_id)
            .join(Submission, Submission.id == PeerReview.submission_id)
            .where(Submission.assignment_id == assignment_id).order_by(PeerReview.id)):
        if sub_id in author_of:
            existing.setdefault(author_of[sub_id], []).append(reviewer)
    plan = peers.assign_reviewers(assignment_id, list(subs), k, existing)
    rows = [{"id": new_id(), "submission_id": subs[author], "reviewer_id": reviewer, "feedback": ""}
            for author, reviewers in plan.items() for reviewer in reviewers
            if reviewer not in existing.get(author, ())]
    if rows:
        stmt = dialect_insert(session, PeerReview).on_conflict_do_nothing(index_elements=["submission_id", "reviewer_id"])
        session.execute(stmt, rows)
    return {"assignment_id": assignment_id, "submissions": len(subs), "added": len(rows)} | review_counts(
        session, assignment_id)


def review_counts(session: Session, assignment_id: str) -> dict:
    """What the database holds: reviews in all, the loads per reviewer and per submission (distinct values)."""
    mine = (select(PeerReview.reviewer_id, PeerReview.submission_id)
            .join(Submission, Submission.id == PeerReview.submission_id)
            .where(Submission.assignment_id == assignment_id).subquery())
    per_reviewer = list(session.scalars(select(func.count()).select_from(mine).group_by(mine.c.reviewer_id)))
    per_submission = list(session.scalars(select(func.count()).select_from(mine).group_by(mine.c.submission_id)))
    return {"reviews": sum(per_reviewer), "per_reviewer": sorted(set(per_reviewer)),
            "per_submission": sorted(set(per_submission))}


def record_review(session: Session, review_id: str, rating: float, feedback: str) -> dict:
    """Store a peer review and refresh the submission's peer score (and its gradebook item when the
    submission has been graded and peers count)."""
    submission_id = session.scalar(select(PeerReview.submission_id).where(PeerReview.id == review_id))
    if submission_id is None:
        raise InvalidPayload("review_id", f"no peer review {review_id!r}")
    _lock_author(session, submission_id)
    review = session.get(PeerReview, review_id, with_for_update=True)
    review.rating, review.feedback, review.completed_at = rating, feedback, review.completed_at or utcnow()
    session.flush()
    sub = session.get(Submission, review.submission_id, with_for_update=True)
    ratings = list(session.scalars(select(PeerReview.rating).where(PeerReview.submission_id == sub.id,
                                                                   PeerReview.rating.is_not(None))))
    sub.peer_score = peers.peer_percent(ratings)
    assignment = session.get(Assignment, sub.assignment_id)
    counts = sub.score is not None and bool(assignment.peer_weight)
    if counts:
        _put_in_gradebook(session, sub, assignment)
    return {"review_id": review.id, "submission_id": sub.id, "peer_score": sub.peer_score, "reviews": len(ratings),
            "user_id": sub.user_id, "course_id": assignment.course_id, "gradebook_changed": counts, "events": []}
