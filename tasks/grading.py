"""Tasks of the grading family (queue ``grading``). Thin: unit of work → domain → events."""
from __future__ import annotations

from domain.grading import assignments, gradebook, quizzes, recompute
from domain.jobs.models import Job
from workers.base import job_task


def _finish(ctx, session, outcome: dict) -> dict:
    """Emit the domain's events and schedule the learner's coalesced recompute, same transaction."""
    for name, data in outcome.pop("events", []):
        ctx.emit(name, data, user_id=data.get("user_id"), session=session)
    if outcome.get("gradebook_changed", bool(outcome.get("score_pct") is not None)) and outcome.get("user_id"):
        outcome["recompute_job"] = gradebook.schedule_recompute(
            session, outcome["user_id"], outcome["course_id"], ctx.settings.grading_recompute_delay)
    return outcome


@job_task("grade_quiz")
def grade_quiz(ctx, payload):
    with ctx.uow() as session:
        submitted_at = session.get(Job, ctx.job_id).created_at     # the server time intake accepted the answers
        outcome = quizzes.grade_attempt(session, payload.attempt_id, payload.answers, submitted_at)
        return _finish(ctx, session, outcome)


@job_task("grade_assignment")
def grade_assignment(ctx, payload):
    with ctx.uow() as session:
        outcome = assignments.grade(session, payload.submission_id, payload.rubric, payload.feedback,
                                    payload.request_revision)
        return _finish(ctx, session, outcome)


@job_task("assign_peer_reviews")
def assign_peer_reviews(ctx, payload):
    with ctx.uow() as session:
        return assignments.assign_reviews(session, payload.assignment_id, payload.k)


@job_task("submit_peer_review")
def submit_peer_review(ctx, payload):
    with ctx.uow() as session:
        outcome = assignments.record_review(session, payload.review_id, payload.rating, payload.feedback)
        return _finish(ctx, session, outcome)


@job_task("record_code_score")
def record_code_score(ctx, payload):
    with ctx.uow() as session:
        gradebook.record_code_score(session, user_id=payload.user_id, course_id=payload.course_id,
                                    exercise_id=payload.exercise_id, score=payload.score, max_score=payload.max_score)
        return _finish(ctx, session, {"user_id": payload.user_id, "course_id": payload.course_id,
                                      "exercise_id": payload.exercise_id, "gradebook_changed": True})


@job_task("recompute_course_grade")
def recompute_course_grade(ctx, payload):
    with ctx.uow() as session:
        return recompute.recompute_learner(
            session, payload.user_id, payload.course_id,
            lambda name, data, user_id: ctx.emit(name, data, user_id=user_id, session=session))


@job_task("regrade_course")
def regrade_course(ctx, payload):
    def emitter(session):
        return lambda name, data, user_id: ctx.emit(name, data, user_id=user_id, session=session)

    return recompute.regrade_course(ctx.uow, payload.course_id, ctx.settings.grading_chunk_size, emitter,
                                    control=ctx, rescore=payload.rescore_quizzes)
