"""The ``evaluate`` job: submission queued -> running -> graded (or cancelled / error when the job
ends without a grade), progress once, one event.

Pure of Celery: the task passes a unit-of-work factory, an ``emit`` and progress/cancel hooks.
"""
from __future__ import annotations

import logging
from contextlib import AbstractContextManager
from typing import Any, Callable

from domain.jobs import states
from domain.jobs.errors import JobCancelled
from domain.jobs.models import Job
from domain.sandbox import judge, submissions
from domain.sandbox.kinds import EvaluatePayload

log = logging.getLogger(__name__)
Emit = Callable[..., None]   # emit(name, data, user_id=..., session=...)


def run(payload: EvaluatePayload, *, job_id: str, uow: Callable[[], AbstractContextManager[Any]], emit: Emit,
        config: judge.JudgeConfig, max_time_ms: int, max_memory_mb: int,
        progress: Callable[[float, str], None] | None = None,
        cancelled: Callable[[], bool] = lambda: False, last_attempt: bool = True,
        transient: tuple[type[BaseException], ...] = ()) -> dict:
    """Grade the submission. When the job is about to end without a grade (cancelled, a failure,
    a transient error on its ``last_attempt``), the submission is settled first (``cancelled`` /
    ``error``) so it never stays ``running``; the exception then goes on to the job lifecycle."""
    with uow() as s:
        if payload.submission_id is not None:
            submission_id = payload.submission_id
        else:
            submission_id = submissions.for_job(s, job_id, exercise_id=payload.exercise_id, user_id=payload.user_id,
                                                language=payload.language, code=payload.code).id
    try:
        return _grade(submission_id, uow=uow, emit=emit, config=config, max_time_ms=max_time_ms,
                      max_memory_mb=max_memory_mb, progress=progress, cancelled=cancelled)
    except JobCancelled:
        with uow() as s:
            job = s.get(Job, job_id)
            if job is not None and job.cancel_requested:   # (not a lost lease: that job runs again)
                submissions.settle(s, submission_id, states.CANCELLED)
        raise
    except Exception as exc:
        if not isinstance(exc, transient):
            ending = states.FAILED
        elif last_attempt:
            ending = states.DEAD_LETTERED
        else:   # retried: the submission stays running
            raise
        try:
            with uow() as s:
                submissions.settle(s, submission_id, ending)
        except Exception:   # the database itself may be what failed: the job still ends
            log.exception("could not settle submission %s", submission_id)
        raise


def _grade(submission_id: str, *, uow, emit: Emit, config: judge.JudgeConfig, max_time_ms: int, max_memory_mb: int,
           progress, cancelled: Callable[[], bool]) -> dict:
    with uow() as s:
        work = submissions.start(s, submission_id, max_time_ms=max_time_ms, max_memory_mb=max_memory_mb)
    if work is None:   # graded by an earlier delivery of this job: report what was stored
        return _stored(uow, submission_id, repeated=True)
    evaluation = judge.evaluate(work.language, work.code, work.cases, time_limit_ms=work.time_limit_ms,
                                memory_limit_mb=work.memory_limit_mb, config=config, progress=progress,
                                cancelled=cancelled)
    if cancelled():
        raise JobCancelled("the evaluation was cancelled")
    with uow() as s:
        event = submissions.record(s, submission_id, evaluation)
        if event is not None:
            emit("submission.evaluated", event, user_id=event["user_id"], session=s)
    return _stored(uow, submission_id, repeated=event is None)


def _stored(uow, submission_id: str, repeated: bool) -> dict:
    from domain.sandbox.models import Submission

    with uow() as s:
        sub = s.get(Submission, submission_id)
        return {"submission_id": sub.id, "status": sub.status.value, "verdict": sub.verdict, "score": sub.score,
                "attempt": sub.attempt, "cases": len(sub.results or []), "repeated": repeated}
