"""Code submissions: submit code for an exercise (writes the submission and its ``evaluate``
job in one transaction), read a submission's grade, read an exercise as a learner sees it."""
from __future__ import annotations

from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from celeryconfig import settings
from domain.core.fields import id_field, text
from domain.db import session_factory, unit_of_work
from domain.jobs import enqueueing
from domain.jobs.errors import InvalidPayload
from domain.jobs.models import Job
from domain.sandbox import submissions
from domain.sandbox.kinds import MAX_CODE_CHARS, Language
from domain.sandbox.models import Exercise, Submission
from intake.auth import Caller, require, require_write
from intake.body import openapi_body, parse_json
from intake.errors import ApiError
from intake.openapi import answers
from intake.schemas.learning import ExerciseView, SubmissionAccepted, SubmissionView

router = APIRouter(tags=["sandbox"])


class NewSubmission(BaseModel):
    model_config = ConfigDict(extra="forbid")
    exercise_id: str = id_field(description="the exercise", examples=["ex-fizzbuzz"])
    user_id: str = id_field(description="the learner", examples=["u-1"])
    language: Language = Field(description="one of the exercise's languages", examples=["python"])
    code: str = text(MAX_CODE_CHARS, min_length=1, description="the source code",
                     examples=["n = int(input())\nprint('Fizz' if n % 3 == 0 else n)"])


def _links(submission_id: str, job_id: str) -> dict:
    return {"self": f"/v1/submissions/{submission_id}", "job": f"/v1/jobs/{job_id}",
            "events": f"/v1/jobs/{job_id}/events"}


def _same(sub: Submission, body: NewSubmission) -> bool:
    return (sub.exercise_id, sub.user_id, sub.language, sub.code) == (body.exercise_id, body.user_id,
                                                                      body.language, body.code)


class _LostRace(Exception):
    pass


def _submit(caller: Caller, body: NewSubmission, key: str | None) -> tuple[dict, bool]:
    try:
        return _submit_once(caller, body, key)
    except _LostRace:
        return _submit_once(caller, body, key)


def _submit_once(caller: Caller, body: NewSubmission, key: str | None) -> tuple[dict, bool]:
    with unit_of_work(settings.database_url) as s:
        enqueueing.lock_idempotency_key(s, caller.key_id, key)     # concurrent retries wait for the first
        if key:
            job = s.scalar(select(Job).where(Job.caller == caller.key_id, Job.idempotency_key == key))
            if job is not None:
                sub = s.scalar(select(Submission).where(Submission.job_id == job.id))
                if sub is None or not _same(sub, body):
                    raise ApiError(409, "idempotency_conflict", "this Idempotency-Key was already used with a "
                                   "different request", [{"field": "Idempotency-Key", "message": f"job {job.id}"}])
                return {"submission": sub.public(), "job": job.to_dict()}, False
        try:
            sub = submissions.create(s, exercise_id=body.exercise_id, user_id=body.user_id, language=body.language,
                                     code=body.code)
        except InvalidPayload as exc:
            raise ApiError(422, "invalid_payload", exc.message, exc.details) from None
        job, created = enqueueing.enqueue(s, "evaluate", {"submission_id": sub.id}, caller=caller.key_id,
                                       idempotency_key=key, check_data=False)
        if not created:   # a concurrent request with the same key won: drop ours, answer with theirs
            raise _LostRace()
        sub.job_id = job.id
        s.flush()
        out = {"submission": sub.public(), "job": job.to_dict()}
    return out, True


@router.post("/v1/submissions", responses=answers(SubmissionAccepted, 202, errors=(409,)), status_code=202, summary="Submit code for an exercise (starts an evaluate job)",
             openapi_extra=openapi_body(NewSubmission))
async def create_submission(request: Request, caller: Caller = require_write("sandbox"),
                            idempotency_key: str | None = Header(default=None, max_length=200)):
    body = await parse_json(request, NewSubmission)
    out, created = await run_in_threadpool(_submit, caller, body, idempotency_key)
    sub_id, job_id = out["submission"]["id"], out["job"]["id"]
    headers = {"Location": f"/v1/submissions/{sub_id}"}
    if not created:
        headers["Idempotent-Replayed"] = "true"
    return JSONResponse({**out, "links": _links(sub_id, job_id)}, status_code=202, headers=headers)


@router.get("/v1/submissions/{submission_id}", responses=answers(SubmissionView), summary="A submission: status, verdict, score, per-case results, "
                                                        "feedback (never hidden cases' data)")
def get_submission(submission_id: str, caller: Caller = require("read")):
    with session_factory(settings.database_url)() as s:
        sub = s.get(Submission, submission_id)
        if sub is None:
            raise ApiError(404, "not_found", f"no submission {submission_id!r}")
        # its job may have ended while no sandbox code ran (cancelled while queued, worker lost)
        if sub.status in submissions.OPEN and submissions.settle_ended(s, [sub.id]):
            s.commit()
        return {"submission": sub.public(), "links": _links(sub.id, sub.job_id or "")}


@router.get("/v1/exercises/{exercise_id}", responses=answers(ExerciseView), summary="An exercise as a learner sees it (no reference solution, "
                                                    "no hidden cases)")
def get_exercise(exercise_id: str, caller: Caller = require("read")):
    with session_factory(settings.database_url)() as s:
        ex = s.get(Exercise, exercise_id)
        if ex is None:
            raise ApiError(404, "not_found", f"no exercise {exercise_id!r}")
        visible = [{"position": c.position, "stdin": c.stdin, "expected_stdout": c.expected_stdout}
                   for c in ex.test_cases if not c.hidden]
        return {"exercise": {"id": ex.id, "title": ex.title, "description": ex.description,
                             "difficulty": ex.difficulty.value, "topic": ex.topic, "languages": ex.languages,
                             "starter_code": ex.starter_code, "hints": ex.hints, "time_limit_ms": ex.time_limit_ms,
                             "memory_limit_mb": ex.memory_limit_mb, "lesson_id": ex.lesson_id,
                             "examples": visible, "hidden_cases": len(ex.test_cases) - len(visible)}}
