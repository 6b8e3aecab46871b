"""Quiz attempts: starting one (server-side start time, attempt limit) and scoring it.

``check_submission`` is the one place bad input is detected; intake runs it (422) and the
job runs it again before writing anything (a permanent error, nothing half-written).
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, Iterable

from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from domain.db import utcnow
from domain.grading import policies
from domain.grading.gradebook import lock_learners, upsert_item
from domain.grading.models import Quiz, QuizAttempt, QuizQuestion
from domain.grading.questions import BadAnswer, check_answer, parse_spec, score
from domain.jobs.errors import InvalidPayload


class AttemptLimitReached(InvalidPayload):
    """An attempt beyond the quiz's limit (a permanent error; 422 at intake)."""

    code = "attempt_limit_reached"


def start_attempt(session: Session, quiz_id: str, user_id: str, now: datetime | None = None) -> QuizAttempt:
    """A new attempt with the server's clock as its start; refused beyond the quiz's attempt limit."""
    quiz = session.get(Quiz, quiz_id, with_for_update=True)   # serialises concurrent starts
    if quiz is None:
        raise InvalidPayload("quiz_id", f"no quiz {quiz_id!r}")
    used = session.scalar(select(func.count()).select_from(QuizAttempt)
                          .where(QuizAttempt.quiz_id == quiz_id, QuizAttempt.user_id == user_id)) or 0
    if quiz.max_attempts is not None and used >= quiz.max_attempts:
        raise AttemptLimitReached("quiz_id", f"the quiz allows {quiz.max_attempts} attempt(s); all are used")
    attempt = QuizAttempt(quiz_id=quiz_id, user_id=user_id, number=used + 1, started_at=now or utcnow())
    session.add(attempt)
    session.flush()
    return attempt


def questions_of(session: Session, quiz_id: str) -> list[QuizQuestion]:
    return list(session.scalars(select(QuizQuestion).where(QuizQuestion.quiz_id == quiz_id)
                                .order_by(QuizQuestion.position)))


# how far ahead of our clock an ``answered_at`` recorded by the web tier's clock may be
CLOCK_SKEW = timedelta(seconds=60)


def check_submission(session: Session, attempt_id: str, answers: list[Any],
                     submitted_at: datetime | None = None) -> tuple[QuizAttempt, Quiz, list]:
    """Raise InvalidPayload / AttemptLimitReached for anything wrong; return what scoring needs.

    ``submitted_at``: when the answers were handed in (intake: now; the worker: the job's
    creation time). Every ``answered_at`` must lie within [the attempt's start, that + CLOCK_SKEW].
    """
    submitted_at = submitted_at or utcnow()
    attempt = session.get(QuizAttempt, attempt_id)
    if attempt is None:
        raise InvalidPayload("attempt_id", f"no quiz attempt {attempt_id!r}")
    quiz = session.get(Quiz, attempt.quiz_id)
    if quiz.max_attempts is not None and attempt.number > quiz.max_attempts:
        raise AttemptLimitReached("attempt_id",
                                  f"attempt {attempt.number} is beyond the quiz's limit of {quiz.max_attempts}")
    questions = questions_of(session, quiz.id)
    by_id = {q.id: q for q in questions}
    specs = {}
    for q in questions:
        try:
            specs[q.id] = parse_spec(q.spec)
        except ValidationError as exc:     # stored before today's checks (e.g. a pattern RE2 refuses)
            raise InvalidPayload("attempt_id", f"question {q.id!r} cannot be graded as authored: "
                                               f"{exc.errors()[0]['msg']}; correct it first") from None
    seen = set()
    for i, answer in enumerate(answers):
        question = by_id.get(answer.question_id)
        if question is None:
            raise InvalidPayload(f"answers.{i}.question_id", f"question {answer.question_id!r} is not in this quiz")
        if answer.question_id in seen:
            raise InvalidPayload(f"answers.{i}.question_id", "answered twice")
        seen.add(answer.question_id)
        try:
            check_answer(specs[question.id], answer.value)
        except BadAnswer as exc:
            raise InvalidPayload(f"answers.{i}.value", str(exc)) from None
        _check_answered_at(answer.answered_at, attempt.started_at, submitted_at, f"answers.{i}.answered_at")
    return attempt, quiz, questions


def _check_answered_at(answered_at: datetime | None, started_at: datetime, submitted_at: datetime,
                       field: str) -> None:
    if answered_at is None:
        return
    if answered_at.tzinfo is None or answered_at.utcoffset() is None:
        raise InvalidPayload(field, "answered_at needs a time zone (e.g. 2026-01-01T10:00:00Z)")
    if answered_at < started_at:
        raise InvalidPayload(field, f"answered before the attempt started ({started_at.isoformat()})")
    if answered_at > submitted_at + CLOCK_SKEW:
        raise InvalidPayload(field, "answered after the answers were handed in")


def score_attempt(quiz: Quiz, questions: list[QuizQuestion], started_at: datetime, answers: list[Any],
                  submitted_at: datetime) -> tuple[float, float, list[dict]]:
    """(score, max, per-question results). Answers given after the time limit are not counted."""
    given = {a.question_id: a for a in answers}
    results, total, maximum = [], 0.0, 0.0
    for q in questions:
        spec = parse_spec(q.spec)
        answer = given.get(q.id)
        answered_at = (answer.answered_at or submitted_at) if answer else submitted_at
        if answer is not None and not policies.within_time_limit(started_at, answered_at, quiz.time_limit_seconds):
            res = score(q.id, spec, q.points, None).to_dict() | {"counted": False,
                                                                  "feedback": "Answered after the time limit."}
        else:
            try:
                res = score(q.id, spec, q.points, answer.value if answer else None).to_dict()
            except BadAnswer:   # only on a rescore after the question's type was changed
                res = score(q.id, spec, q.points, None).to_dict() | {"feedback": "The answer no longer fits the question."}
        results.append(res)
        total += res["points"]
        maximum += q.points
    return min(maximum, round(total, 6)), maximum, results


def counted_score(policy: str, attempts: Iterable[tuple[float | None, float | None]]) -> tuple[float, float] | None:
    """(score, max) the quiz counts for, from its graded attempts' (score, max) in attempt order:
    the policy (best / last / average) over the attempts' fractions, on the last attempt's max."""
    rows = list(attempts)
    if not rows:
        return None
    maximum = rows[-1][1] or 0.0
    fractions = [(score or 0.0) / most if most else 1.0 for score, most in rows]
    return policies.combine_attempts(policy, fractions) * maximum, maximum


def refresh_quiz_item(session: Session, quiz: Quiz, user_id: str) -> None:
    """Put the quiz's counted score (best / last / average of graded attempts) in the gradebook.
    The caller holds the learner's lock (``lock_learners``), so the attempts read are all committed ones."""
    rows = session.execute(select(QuizAttempt.score, QuizAttempt.max_score)
                           .where(QuizAttempt.quiz_id == quiz.id, QuizAttempt.user_id == user_id,
                                  QuizAttempt.status == "graded").order_by(QuizAttempt.number)).all()
    counted = counted_score(quiz.attempt_policy, [(r.score, r.max_score) for r in rows])
    if counted is None:
        return
    upsert_item(session, user_id=user_id, course_id=quiz.course_id, category=quiz.category, source_type="quiz",
                source_id=quiz.id, score=counted[0], max_score=counted[1])


def grade_attempt(session: Session, attempt_id: str, answers: list[Any], submitted_at: datetime) -> dict:
    """Score and store one attempt. A rerun of an already graded attempt changes nothing.

    Takes the learner's gradebook lock first, then reads the attempt and the others it combines with."""
    learner = session.execute(select(QuizAttempt.user_id, Quiz.course_id).join(Quiz, Quiz.id == QuizAttempt.quiz_id)
                              .where(QuizAttempt.id == attempt_id)).first()
    if learner is not None:
        lock_learners(session, learner.course_id, [learner.user_id])
    attempt, quiz, questions = check_submission(session, attempt_id, answers, submitted_at)
    if attempt.status == "graded":
        return {"attempt_id": attempt.id, "already_graded": True, "score": attempt.score,
                "max_score": attempt.max_score, "events": []}
    total, maximum, results = score_attempt(quiz, questions, attempt.started_at, answers, submitted_at)
    attempt.answers = [{"question_id": a.question_id, "value": a.value,
                        "answered_at": a.answered_at.isoformat() if a.answered_at else None} for a in answers]
    attempt.results, attempt.score, attempt.max_score = results, total, maximum
    attempt.submitted_at, attempt.status = submitted_at, "graded"
    session.flush()
    refresh_quiz_item(session, quiz, attempt.user_id)
    pct = round(100.0 * total / maximum, 4) if maximum else 100.0
    event = {"user_id": attempt.user_id, "course_id": quiz.course_id, "quiz_id": quiz.id,
             "attempt_id": attempt.id, "score_pct": pct}
    return {"attempt_id": attempt.id, "score": total, "max_score": maximum, "score_pct": pct,
            "results": results, "user_id": attempt.user_id, "course_id": quiz.course_id,
            "events": [("quiz.graded", event)]}


def _stored_time(text: str | None) -> datetime | None:
    """An ``answered_at`` as stored on an attempt (older rows may lack the zone: they were UTC)."""
    if not text:
        return None
    value = datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def rescore_course_attempts(session: Session, course_id: str, user_ids: list[str]) -> int:
    """After an answer-key change: rescore the chunk's graded attempts from their stored answers
    (the caller rebuilds the items: ``regrade.sync_items``). Returns how many attempts changed score."""
    from types import SimpleNamespace

    quizzes = {q.id: q for q in session.scalars(select(Quiz).where(Quiz.course_id == course_id))}
    if not quizzes:
        return 0
    questions: dict[str, list[QuizQuestion]] = {qid: [] for qid in quizzes}
    for q in session.scalars(select(QuizQuestion).where(QuizQuestion.quiz_id.in_(list(quizzes)))
                             .order_by(QuizQuestion.position)):
        questions[q.quiz_id].append(q)
    attempts = session.scalars(select(QuizAttempt).where(QuizAttempt.quiz_id.in_(list(quizzes)),
                                                         QuizAttempt.user_id.in_(user_ids),
                                                         QuizAttempt.status == "graded"))
    changed = 0
    for attempt in attempts:
        answers = [SimpleNamespace(question_id=a["question_id"], value=a["value"],
                                   answered_at=_stored_time(a.get("answered_at")))
                   for a in attempt.answers or []]
        quiz = quizzes[attempt.quiz_id]
        total, maximum, results = score_attempt(quiz, questions[quiz.id], attempt.started_at, answers,
                                                attempt.submitted_at)
        if total != attempt.score or maximum != attempt.max_score:
            attempt.score, attempt.max_score, attempt.results = total, maximum, results
            changed += 1
    session.flush()
    return changed
