"""Exercises and submissions on a Session: create, check at intake, start, record a grade.

Recording is safe to repeat: the submission row is locked and a graded submission is never
graded again, so progress (attempts, best score, completed at) moves once per submission.
A submission whose job ends without a grade (cancelled, failed, dead-lettered) is *settled*:
status ``cancelled`` or ``error`` with a feedback line saying so, never left ``running``.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from domain.core.models import Lesson, Module, User
from domain.db import utcnow
from domain.jobs import states
from domain.jobs.errors import InvalidPayload
from domain.jobs.models import Job
from domain.sandbox.judge import CaseSpec, Evaluation
from domain.sandbox.models import Exercise, ExerciseProgress, Submission, SubmissionStatus, TestCase


def create_exercise(session: Session, *, title: str, languages: list[str], cases: list[dict],
                    **fields) -> Exercise:
    """``cases``: dicts with stdin, expected_stdout and optional comparison, tolerance, hidden, weight."""
    exercise = Exercise(title=title, languages=languages, **fields)
    exercise.test_cases = [TestCase(position=i, **case) for i, case in enumerate(cases, 1)]
    session.add(exercise)
    session.flush()
    return exercise


def check_new(session: Session, exercise_id: str, user_id: str, language: str) -> Exercise:
    exercise = session.get(Exercise, exercise_id)
    if exercise is None:
        raise InvalidPayload("exercise_id", f"no exercise {exercise_id!r}")
    if language not in exercise.languages:
        raise InvalidPayload("language", f"this exercise accepts {', '.join(exercise.languages)}")
    if session.get(User, user_id) is None:
        raise InvalidPayload("user_id", f"no user {user_id!r}")
    return exercise


def create(session: Session, *, exercise_id: str, user_id: str, language: str, code: str,
           job_id: str | None = None) -> Submission:
    check_new(session, exercise_id, user_id, language)
    submission = Submission(exercise_id=exercise_id, user_id=user_id, language=language, code=code, job_id=job_id)
    session.add(submission)
    session.flush()
    return submission


def for_job(session: Session, job_id: str, **fields) -> Submission:
    """The submission a code-carrying job created (one per job, even when the job runs twice)."""
    existing = session.scalar(select(Submission).where(Submission.job_id == job_id))
    return existing if existing is not None else create(session, job_id=job_id, **fields)


@dataclass(frozen=True)
class Work:
    """What the judge needs, copied out of the session."""

    submission_id: str
    language: str
    code: str
    cases: list[CaseSpec]
    time_limit_ms: int
    memory_limit_mb: int


def start(session: Session, submission_id: str, *, max_time_ms: int, max_memory_mb: int) -> Work | None:
    """Mark the submission running; None when it was already graded (a repeated delivery)."""
    submission = session.get(Submission, submission_id, with_for_update=True)
    if submission is None:
        raise InvalidPayload("submission_id", f"no submission {submission_id!r}")
    if submission.status is SubmissionStatus.graded:
        return None
    submission.status = SubmissionStatus.running
    exercise = session.get(Exercise, submission.exercise_id)
    cases = [CaseSpec(stdin=c.stdin, expected=c.expected_stdout, comparison=c.comparison, tolerance=c.tolerance,
                      hidden=c.hidden, weight=c.weight) for c in exercise.test_cases]
    return Work(submission_id=submission.id, language=submission.language, code=submission.code, cases=cases,
                time_limit_ms=min(exercise.time_limit_ms, max_time_ms),
                memory_limit_mb=min(exercise.memory_limit_mb, max_memory_mb))


def lesson_context(session: Session, exercise: Exercise) -> tuple[str | None, str | None]:
    """(course_id, lesson_id) when the exercise is linked to a lesson."""
    if not exercise.lesson_id:
        return None, None
    course_id = session.scalar(select(Module.course_id).join(Lesson, Lesson.module_id == Module.id)
                               .where(Lesson.id == exercise.lesson_id))
    return course_id, exercise.lesson_id


def _progress(session: Session, user_id: str, exercise_id: str) -> ExerciseProgress:
    stmt = (select(ExerciseProgress).where(ExerciseProgress.user_id == user_id,
                                           ExerciseProgress.exercise_id == exercise_id).with_for_update())
    row = session.scalar(stmt)
    if row is not None:
        return row
    try:
        with session.begin_nested():   # a concurrent first submission may insert it first
            row = ExerciseProgress(user_id=user_id, exercise_id=exercise_id, attempts=0, best_score=0)
            session.add(row)
    except IntegrityError:
        row = session.scalar(stmt)
    return row


def record(session: Session, submission_id: str, evaluation: Evaluation) -> dict | None:
    """Store the grade and move progress once. Returns the ``submission.evaluated`` event data,
    or None when the submission was already graded."""
    submission = session.get(Submission, submission_id, with_for_update=True)
    if submission is None or submission.status is SubmissionStatus.graded:
        return None
    progress = _progress(session, submission.user_id, submission.exercise_id)
    now = utcnow()
    progress.attempts += 1
    progress.updated_at = now
    if evaluation.score > progress.best_score or progress.best_submission_id is None:
        progress.best_score = max(progress.best_score, evaluation.score)
        progress.best_submission_id = submission.id
    if evaluation.score == 100 and progress.completed_at is None:
        progress.completed_at = now
    public = evaluation.public()
    submission.status = SubmissionStatus.graded
    submission.verdict = evaluation.verdict
    submission.score = evaluation.score
    submission.results = public["cases"]
    submission.feedback = evaluation.feedback
    submission.compile_output = evaluation.compile_output
    submission.attempt = progress.attempts
    submission.graded_at = now
    exercise = session.get(Exercise, submission.exercise_id)
    course_id, lesson_id = lesson_context(session, exercise)
    return {"user_id": submission.user_id, "exercise_id": submission.exercise_id, "submission_id": submission.id,
            "course_id": course_id, "lesson_id": lesson_id, "score": evaluation.score,
            "attempt": submission.attempt, "verdict": evaluation.verdict}


OPEN = (SubmissionStatus.queued, SubmissionStatus.running)
# how a job that ended without grading its submission leaves that submission
ENDINGS: dict[str, tuple[SubmissionStatus, str]] = {
    states.CANCELLED: (SubmissionStatus.cancelled, "The evaluation was cancelled before a grade: submit again."),
    states.FAILED: (SubmissionStatus.error, "The submission could not be graded (an internal error, not your "
                                            "code): submit again, or ask the course staff."),
    states.DEAD_LETTERED: (SubmissionStatus.error, "The submission could not be graded: the code sandbox was "
                                                   "unavailable. Submit again later, or ask the course staff."),
}


def settle(session: Session, submission_id: str, job_state: str) -> bool:
    """End a submission that its job will not grade. False when it is no longer open (graded or
    settled already): safe to repeat, and never undoes a grade."""
    submission = session.get(Submission, submission_id, with_for_update=True)
    if submission is None or submission.status not in OPEN:
        return False
    submission.status, submission.feedback = ENDINGS[job_state]
    return True


def settle_ended(session: Session, submission_ids: list[str] | None = None, limit: int = 100) -> list[str]:
    """Settle open submissions whose job already ended without a grade, also when no sandbox code
    ran at that moment (a job cancelled while queued, dead-lettered by the reaper after its worker
    was lost). A bounded batch (rows locked, busy ones skipped); returns the settled ids."""
    stmt = (select(Submission.id, Job.state).join(Job, Job.id == Submission.job_id)
            .where(Submission.status.in_(OPEN), Job.state.in_(list(ENDINGS))).limit(limit))
    if submission_ids is not None:
        stmt = stmt.where(Submission.id.in_(submission_ids))
    return [sub_id for sub_id, job_state in session.execute(stmt).all() if settle(session, sub_id, job_state)]
