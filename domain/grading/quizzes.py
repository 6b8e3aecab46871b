"""Quiz attempts: starting one (server-side start time, attempt limit) and scoring it.

``check_submission`` is the one place bad input is detected; intake runs it (422) and the
job runs it again before writing anything (a permanent error, nothing half-written).
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from domain.db import utcnow
from domain.grading import policies
from domain.grading.gradebook import upsert_item
from domain.grading.models import Quiz, QuizAttempt, QuizQuestion
from domain.grading.questions import BadAnswer, fraction, parse_spec, score
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


def check_submission(session: Session, attempt_id: str, answers: list[Any]) -> tuple[QuizAttempt, Quiz, list]:
    """Raise InvalidPayload / AttemptLimitReached for anything wrong; return what scoring needs."""
    attempt = session.get(QuizAttempt, attempt_id)
    if attempt is None:
        raise InvalidPayload("attempt_id", f"no quiz attempt {attempt_id!r}")
    quiz = session.get(Quiz, attempt.quiz_id)
    if quiz.max_attempts is not None and attempt.number > quiz.max_attempts:
        raise AttemptLimitReached("attempt_id",
                                  f"attempt {attempt.number} is beyond the quiz's limit of {quiz.max_attempts}")
    questions = questions_of(session, quiz.id)
    by_id = {q.id: q for q in questions}
    seen = set()
    for i, answer in enumerate(answers):
        question = by_id.get(answer.question_id)
        if question is None:
            raise InvalidPayload(f"answers.{i}.question_id", f"question {answer.question_id!r} is not in this quiz")
        if answer.question_id in seen:
            raise InvalidPayload(f"answers.{i}.question_id", "answered twice")
        seen.add(answer.question_id)
        try:
            fraction(parse_spec(question.spec), answer.value)
        except BadAnswer as exc:
            raise InvalidPayload(f"answers.{i}.value", str(exc)) from None
    return attempt, quiz, questions


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


def refresh_quiz_item(session: Session, quiz: Quiz, user_id: str) -> None:
    """Put the quiz's counted score (best / last / average of graded attempts) in the gradebook."""
    rows = session.execute(select(QuizAttempt.score, QuizAttempt.max_score)
                           .where(QuizAttempt.quiz_id == quiz.id, QuizAttempt.user_id == user_id,
                                  QuizAttempt.status == "graded").order_by(QuizAttempt.number)).all()
    if not rows:
        return
    maximum = rows[-1].max_score or 0.0
    percents = [(r.score / r.max_score if r.max_score else 1.0) for r in rows]
    counted = policies.combine_attempts(quiz.attempt_policy, percents)
    upsert_item(session, user_id=user_id, course_id=quiz.course_id, category=quiz.category, source_type="quiz",
                source_id=quiz.id, score=counted * maximum, max_score=maximum)


def grade_attempt(session: Session, attempt_id: str, answers: list[Any], submitted_at: datetime) -> dict:
    """Score and store one attempt. A rerun of an already graded attempt changes nothing."""
    attempt, quiz, questions = check_submission(session, attempt_id, answers)
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


def rescore_course_attempts(session: Session, course_id: str, user_ids: list[str]) -> int:
    """After an answer-key change: rescore the chunk's graded attempts from their stored answers
    and refresh their quiz items. Returns how many attempts changed score."""
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
    changed, touched = 0, set()
    for attempt in attempts:
        answers = [SimpleNamespace(question_id=a["question_id"], value=a["value"],
                                   answered_at=datetime.fromisoformat(a["answered_at"]) if a.get("answered_at") else None)
                   for a in attempt.answers or []]
        quiz = quizzes[attempt.quiz_id]
        total, maximum, results = score_attempt(quiz, questions[quiz.id], attempt.started_at, answers,
                                                attempt.submitted_at)
        if total != attempt.score or maximum != attempt.max_score:
            attempt.score, attempt.max_score, attempt.results = total, maximum, results
            changed += 1
            touched.add((quiz.id, attempt.user_id))
    session.flush()
    for quiz_id, user_id in touched:
        refresh_quiz_item(session, quizzes[quiz_id], user_id)
    return changed
