"""``POST /v1/jobs/batch``: many jobs in one request, written in one transaction (the group
commit, ``intake.group_commit.submit_many``), with one outcome per job: created, replayed (its
Idempotency-Key was seen with the same request), 409 (seen with another), 422, 403."""
from __future__ import annotations

import asyncio
from concurrent.futures import Future

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from celeryconfig import settings
from domain.core.fields import When, line
from domain.jobs import enqueueing
from domain.jobs.batch import NewJob
from domain.jobs.errors import InvalidPayload
from intake import group_commit
from intake.auth import Caller, require
from intake.body import openapi_body, parse_json
from intake.errors import ApiError, pydantic_details
from intake.openapi import answers
from intake.routes.jobs import _validated
from intake.schemas.batch import BatchAccepted
from intake.schemas.requests import batch_request

router = APIRouter(tags=["jobs"])
OUTCOME = {True: (202, "created"), False: (202, "replayed")}


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")
    jobs: list[dict] = Field(min_length=1, max_length=settings.jobs_batch_max)


class _Item(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: str = line(64, min_length=1)
    payload: dict = Field(default_factory=dict)
    run_at: When | None = None
    idempotency_key: str | None = line(200, default=None, min_length=1)


def _error(status: int, outcome: str, code: str, message: str, details: list | None = None) -> dict:
    return {"status": status, "outcome": outcome, "job": None,
            "error": {"code": code, "message": message, "details": details or []}}


def _checked(caller: Caller, raw: dict) -> NewJob | dict:
    """The item as a job to write, or its failed outcome."""
    try:
        item = _Item.model_validate(raw)
        return _validated(caller.key_id, item.kind, item.payload, item.run_at, caller.scopes, item.idempotency_key)
    except ValidationError as exc:
        return _error(422, "invalid", "validation_error", "the job did not pass validation",
                      pydantic_details(exc.errors()))
    except ApiError as exc:
        return _error(exc.status, "forbidden" if exc.status == 403 else "invalid", exc.code, exc.message,
                      exc.details)


def _outcome(done: Future) -> dict:
    try:
        job, created = done.result()
    except enqueueing.IdempotencyConflict as exc:
        return _error(409, "conflict", "idempotency_conflict", str(exc),
                      [{"field": "idempotency_key", "message": f"already used for job {exc.job_id}"}])
    except InvalidPayload as exc:
        return _error(422, "invalid", "invalid_payload", exc.message, exc.details)
    except (enqueueing.UnknownKind, ValidationError) as exc:
        return _error(422, "invalid", "validation_error", str(exc))
    status, outcome = OUTCOME[created]
    body = job.to_dict()
    body.pop("payload", None)         # the caller sent it; a 500-job answer need not echo it
    return {"status": status, "outcome": outcome, "job": body, "error": None}


@router.post("/v1/jobs/batch", summary=f"Enqueue up to {settings.jobs_batch_max} jobs in one transaction",
             description=f"At most {settings.jobs_batch_max} jobs (`COURSEWORK_JOBS_BATCH_MAX`) per request. "
                         "Each job carries its own `idempotency_key`. The answer is 200 with one outcome per "
                         "job, in order: `created` or `replayed` (202), `conflict` (409: its key was used for "
                         "another request), `invalid` (422) or `forbidden` (403). The accepted jobs are "
                         "committed together; a job refused for its own reason does not affect the others.",
             openapi_extra=openapi_body(batch_request, "BatchRequest"), responses=answers(BatchAccepted))
async def create_jobs(request: Request, caller: Caller = require()):
    body = await parse_json(request, _Body)
    checked = [_checked(caller, raw) for raw in body.jobs]
    to_write = [(i, c) for i, c in enumerate(checked) if isinstance(c, NewJob)]
    if to_write:
        writer = group_commit.writer(settings.database_url, settings.intake_batch_max)
        futures = writer.submit_many([job for _, job in to_write])
        await asyncio.wait([asyncio.wrap_future(f) for f in futures])
        for (i, _), done in zip(to_write, futures):
            checked[i] = _outcome(done)
    items = [{"index": i, **c} for i, c in enumerate(checked)]
    counts = {"created": 0, "replayed": 0}
    for item in items:
        if item["outcome"] in counts:
            counts[item["outcome"]] += 1
    return JSONResponse({"items": items, **counts, "failed": len(items) - sum(counts.values())})
