"""POST/GET jobs, list, cancel, operator retry, and a job's event stream."""
from __future__ import annotations

import asyncio
import base64
from concurrent.futures import Future
from datetime import datetime

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import and_, or_, select
from starlette.concurrency import run_in_threadpool

from celeryconfig import settings
from domain.core.fields import When, line
from domain.db import session_factory, unit_of_work
from domain.jobs import enqueueing, states, transitions
from domain.jobs.batch import NewJob
from domain.jobs.kinds import catalog
from domain.jobs.models import Job, JobEvent
from intake import group_commit, sse
from intake.body import openapi_body, parse_json
from intake.auth import Caller, require
from intake.errors import ApiError, pydantic_details
from intake.openapi import IDEMPOTENCY_DOC, answers
from intake.schemas.jobs import JobAccepted, JobEvent as JobEventView, JobPage, JobView, KindList
from intake.schemas.requests import job_request
from workers.events import job_channel

router = APIRouter(tags=["jobs"])
SSE_DOC = ("`text/event-stream`: one event per lifecycle transition or progress report, each `data:` a "
           "JobEvent (see the JobEvent schema); the stream ends after the job's final state. Resume with "
           "`Last-Event-ID`.")


class JobRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: str = line(64, min_length=1, description="a job kind, see GET /v1/kinds")
    payload: dict = Field(default_factory=dict)
    run_at: When | None = Field(default=None, description="publish when due (kept in the database)")


def _links(job_id: str) -> dict:
    return {"self": f"/v1/jobs/{job_id}", "events": f"/v1/jobs/{job_id}/events"}


def view(job: dict, caller: Caller | None) -> dict:
    """A job as ``caller`` may see it: error tracebacks are for ``operate`` keys only."""
    if caller is not None and not caller.can("operate") and isinstance(job.get("error"), dict) \
            and "traceback" in job["error"]:
        job = {**job, "error": {k: v for k, v in job["error"].items() if k != "traceback"}}
    return job


def _validated(caller: str, kind: str, payload: dict, run_at: datetime | None, scopes: frozenset[str],
               idempotency_key: str | None) -> NewJob:
    kind_obj = catalog().get(kind)
    if kind_obj is None:
        raise ApiError(422, "unknown_kind", f"unknown job kind {kind!r}",
                       [{"field": "kind", "message": f"must be one of: {', '.join(sorted(catalog().kinds))}"}])
    who = Caller(caller, caller, scopes)
    family = kind_obj.task.split(".")[1]
    writes = who.can_write(family) if family != "ping" else any(s.startswith("enqueue") for s in scopes)
    if scopes and not writes:
        raise ApiError(403, "forbidden", f"job kind {kind!r} needs the 'enqueue:{family}' (or 'enqueue') scope")
    if kind_obj.extra_scope and kind_obj.extra_scope not in scopes:
        raise ApiError(403, "forbidden", f"job kind {kind!r} needs the {kind_obj.extra_scope!r} scope")
    try:
        normalised = enqueueing.validate_payload(kind_obj, payload)
    except ValidationError as exc:
        raise ApiError(422, "validation_error", f"the payload is not valid for job kind {kind!r}",
                       pydantic_details(exc.errors(), prefix="payload")) from None
    needed = kind_obj.payload_scope(kind_obj.payload.model_validate(normalised)) if kind_obj.payload_scope else None
    if needed and needed not in scopes:
        raise ApiError(403, "forbidden", f"this {kind!r} payload needs the {needed!r} scope")
    if run_at is not None and run_at.tzinfo is None:
        raise ApiError(422, "validation_error", "run_at must carry a time zone",
                       [{"field": "run_at", "message": "use an ISO 8601 time with an offset, e.g. Z"}])
    return NewJob(kind, normalised, caller, idempotency_key, run_at)


def _written(job: NewJob) -> Future:
    """Hand the job to this process's group commit (``intake.group_commit``)."""
    return group_commit.writer(settings.database_url, settings.intake_batch_max).submit(job)


def _answer(outcome: Future) -> tuple[dict, bool]:
    try:
        job, created = outcome.result()
    except enqueueing.IdempotencyConflict as exc:
        raise ApiError(409, "idempotency_conflict", str(exc), [{"field": "Idempotency-Key",
                                                                 "message": f"already used for job {exc.job_id}"}])
    return job.to_dict(), created


def accept(caller: str, kind: str, payload: dict, idempotency_key: str | None = None,
           run_at: datetime | None = None, scopes: frozenset[str] = frozenset()) -> tuple[dict, bool]:
    """Validate, then wait until job + outbox are committed (published right after the commit by
    ``workers.events``, else by the relay). Blocking: for routes running in the thread pool."""
    return _answer(_written(_validated(caller, kind, payload, run_at, scopes, idempotency_key)))


async def accept_async(caller: str, kind: str, payload: dict, idempotency_key: str | None = None,
                       run_at: datetime | None = None, scopes: frozenset[str] = frozenset()) -> tuple[dict, bool]:
    """``accept`` for async routes: waits on the event loop, no worker thread held."""
    done = _written(_validated(caller, kind, payload, run_at, scopes, idempotency_key))
    await asyncio.wait([asyncio.wrap_future(done)])     # the outcome, error or not, is read by _answer
    return _answer(done)


def accepted_response(job: dict, created: bool) -> JSONResponse:
    headers = {"Location": f"/v1/jobs/{job['id']}"}
    if not created:
        headers["Idempotent-Replayed"] = "true"
    return JSONResponse({"job": job, "links": _links(job["id"])}, status_code=202, headers=headers)


@router.post("/v1/jobs", status_code=202, summary="Enqueue a job", openapi_extra=openapi_body(job_request, "JobRequest"),
             responses=answers(JobAccepted, 202, errors=(409,)))
async def create_job(request: Request, caller: Caller = require(),
                     idempotency_key: str | None = Header(default=None, max_length=200, description=IDEMPOTENCY_DOC,
                                                          examples=["enroll-42"])):
    body = await parse_json(request, JobRequest)
    job, created = await accept_async(caller.key_id, body.kind, body.payload, idempotency_key, body.run_at,
                                      caller.scopes)
    return accepted_response(job, created)


@router.get("/v1/kinds", summary="Job kinds and their payload schemas", responses=answers(KindList))
def list_kinds(caller: Caller = require("read")):
    return {"kinds": [{"name": k.name, "queue": k.queue, "description": k.description,
                       "max_attempts": k.max_attempts, "payload_schema": k.payload.model_json_schema()}
                      for k in sorted(catalog().kinds.values(), key=lambda k: k.name)]}


def _load(job_id: str, caller: Caller) -> Job:
    """The job, if ``caller`` may see it: its own jobs; every job (system reactions too) with ``operate``."""
    with session_factory(settings.database_url)() as s:
        job = s.get(Job, job_id)
    if job is None or (job.caller != caller.key_id and not caller.can("operate")):
        raise ApiError(404, "not_found", f"no job {job_id!r}")
    return job


@router.get("/v1/jobs/{job_id}", summary="A job's state, progress, attempts, result or error",
            responses=answers(JobView))
def get_job(job_id: str, caller: Caller = require("read")):
    return {"job": view(_load(job_id, caller).to_dict(), caller), "links": _links(job_id)}


def _cursor(job: Job) -> str:
    return base64.urlsafe_b64encode(f"{job.created_at.isoformat()}|{job.id}".encode()).decode()


@router.get("/v1/jobs", summary="List jobs (newest first, paginated)", responses=answers(JobPage))
def list_jobs(caller: Caller = require("read"),
              kind: str | None = Query(default=None, description="only jobs of this kind", examples=["ping"]),
              state: str | None = Query(default=None, description=f"one of {', '.join(states.ALL)}",
                                        examples=["queued"]),
              caller_id: str | None = Query(default=None, alias="caller", examples=["k_5a0e"],
                                            description="only this API key's jobs (operators; others see only "
                                                        "their own)"),
              limit: int = Query(default=50, ge=1, le=200, description="page size", examples=[50]),
              cursor: str | None = Query(default=None, description="next_cursor of the previous page")):
    if state is not None and state not in states.ALL:
        raise ApiError(422, "validation_error", "unknown state",
                       [{"field": "state", "message": f"must be one of: {', '.join(states.ALL)}"}])
    stmt = select(Job).order_by(Job.created_at.desc(), Job.id.desc()).limit(limit + 1)
    if not caller.can("operate"):
        stmt = stmt.where(Job.caller == caller.key_id)
    elif caller_id:
        stmt = stmt.where(Job.caller == caller_id)
    if kind:
        stmt = stmt.where(Job.kind == kind)
    if state:
        stmt = stmt.where(Job.state == state)
    if cursor:
        try:
            ts, last_id = base64.urlsafe_b64decode(cursor.encode()).decode().split("|", 1)
            at = datetime.fromisoformat(ts)
        except Exception:
            raise ApiError(422, "validation_error", "bad cursor", [{"field": "cursor", "message": "not a cursor"}])
        stmt = stmt.where(or_(Job.created_at < at, and_(Job.created_at == at, Job.id < last_id)))
    with session_factory(settings.database_url)() as s:
        jobs = list(s.scalars(stmt))
    page = jobs[:limit]
    return {"jobs": [view(j.to_dict(), caller) for j in page],
            "next_cursor": _cursor(page[-1]) if len(jobs) > limit else None}


@router.post("/v1/jobs/{job_id}/cancel", status_code=202, summary="Cancel a job",
             responses=answers(JobView, 202, errors=(409,)))
def cancel_job(job_id: str, caller: Caller = require()):
    job = _load(job_id, caller)
    family = catalog().kinds[job.kind].task.split(".")[1] if job.kind in catalog().kinds else "ping"
    if not (caller.can_write(family) or caller.can("operate")):
        raise ApiError(403, "forbidden", f"cancelling a {job.kind!r} job needs the 'enqueue:{family}' scope")
    with unit_of_work(settings.database_url) as s:
        job = s.get(Job, job_id, with_for_update=True)
        if job.state in states.TERMINAL:
            raise ApiError(409, "conflict", f"job is already {job.state}")
        transitions.cancel(s, job)
        body = view(job.to_dict(), caller)
    return JSONResponse({"job": body, "links": _links(job_id)}, status_code=202)


@router.post("/v1/jobs/{job_id}/retry", status_code=202,
             summary="Requeue a failed or dead-lettered job; publish a stuck queued or retrying one again (operators)",
             responses=answers(JobView, 202, errors=(409,)))
def retry_job(job_id: str, caller: Caller = require("operate")):
    with unit_of_work(settings.database_url) as s:
        job = s.get(Job, job_id, with_for_update=True)
        if job is None:
            raise ApiError(404, "not_found", f"no job {job_id!r}")
        try:
            transitions.operator_retry(s, job)
        except transitions.NotRetryable as exc:
            raise ApiError(409, "conflict", str(exc)) from None
        body = job.to_dict()
    return JSONResponse({"job": body, "links": _links(job_id)}, status_code=202)


@router.get("/v1/jobs/{job_id}/events", summary="Server-sent events for one job, until it ends",
            responses=answers(None, media_type="text/event-stream", description=SSE_DOC, events=JobEventView))
async def job_events(job_id: str, request: Request, caller: Caller = require("read"),
                     last_event_id: int | None = Header(default=None, description="resume after this event id",
                                                        examples=[1042])):
    await run_in_threadpool(_load, job_id, caller)

    def done() -> bool:
        with session_factory(settings.database_url)() as s:
            return s.scalar(select(Job.state).where(Job.id == job_id)) in states.TERMINAL

    gen = sse.stream(JobEvent.job_id == job_id, job_channel(job_id), after=last_event_id or 0,
                     until=lambda ev: ev["type"] in {f"job.{t}" for t in states.TERMINAL}, is_done=done)
    return StreamingResponse(gen, media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
