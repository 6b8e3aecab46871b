"""The ``evaluate`` job: submission queued -> running -> graded, progress once, one event.

A job that ends without a grade (cancelled, failed, dead-lettered) ends its submission through
the kind's ``on_end`` hook (``domain.sandbox.kinds``), in the transition's own transaction,
whoever ends it; a retried job leaves it ``running``.

Pure of Celery: the task passes a unit-of-work factory, an ``emit`` and its run control.
"""
from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any, Callable

from domain.jobs.control import UNWATCHED, RunControl
from domain.sandbox import judge, submissions
from domain.sandbox.kinds import EvaluatePayload

Emit = Callable[..., None]   # emit(name, data, user_id=..., session=...)


def run(payload: EvaluatePayload, *, job_id: str, uow: Callable[[], AbstractContextManager[Any]], emit: Emit,
        config: judge.JudgeConfig, max_time_ms: int, max_memory_mb: int,
        control: RunControl = UNWATCHED) -> dict:
    with uow() as s:
        if payload.submission_id is not None:
            submission_id = payload.submission_id
        else:
            submission_id = submissions.for_job(s, job_id, exercise_id=payload.exercise_id, user_id=payload.user_id,
                                                language=payload.language, code=payload.code).id
    with uow() as s:
        work = submissions.start(s, submission_id, max_time_ms=max_time_ms, max_memory_mb=max_memory_mb)
    if work is None:   # graded by an earlier delivery of this job: report what was stored
        return _stored(uow, submission_id, repeated=True)
    evaluation = judge.evaluate(work.language, work.code, work.cases, time_limit_ms=work.time_limit_ms,
                                memory_limit_mb=work.memory_limit_mb, config=config, control=control)
    control.check_cancelled()
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
