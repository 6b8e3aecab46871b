"""Operator controls (scope ``operate``): queue health, pause/resume a queue, retry or cancel
many jobs by filter (dry run first), and the job history exported as JSON lines or CSV."""
from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timedelta
from typing import Iterator, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from celeryconfig import settings
from domain.db import utcnow
from domain.jobs import ops
from intake.auth import Caller, require
from intake.body import openapi_body, parse_json
from intake.errors import ApiError
from intake.openapi import answers
from intake.schemas.ops import BulkRequest, BulkResult, QueuePaused, QueuesHealth
from workers import queue_control

router = APIRouter(tags=["operations"])
QUEUE = Path(description=f"a broker queue: one of {', '.join(queue_control.QUEUES)}", examples=["video"])


def _filter(**fields) -> ops.JobFilter:
    try:
        return ops.JobFilter(**fields).checked()
    except ops.FilterError as exc:
        raise ApiError(422, "validation_error", str(exc), [{"field": exc.field, "message": exc.message}]) from None


@router.get("/v1/ops/queues", responses=answers(QueuesHealth), summary="Health of every queue (operators)")
async def queues_health(caller: Caller = require("operate")):
    return {"queues": await run_in_threadpool(queue_control.report, settings.database_url)}


def _queue_action(fn, queue: str) -> dict:
    try:
        return fn(queue)
    except queue_control.UnknownQueue as exc:
        raise ApiError(404, "not_found", str(exc)) from None


@router.post("/v1/ops/queues/{queue}/pause", responses=answers(QueuePaused, errors=(404,)),
             summary="Pause a queue: workers stop taking its jobs, intake still accepts them (operators)")
async def pause_queue(queue: str = QUEUE, caller: Caller = require("operate")):
    return await run_in_threadpool(_queue_action, queue_control.pause, queue)


@router.post("/v1/ops/queues/{queue}/resume", responses=answers(QueuePaused, errors=(404,)),
             summary="Resume a paused queue (operators)")
async def resume_queue(queue: str = QUEUE, caller: Caller = require("operate")):
    return await run_in_threadpool(_queue_action, queue_control.resume, queue)


async def _bulk(request: Request, action: str) -> dict:
    body = await parse_json(request, BulkRequest)
    f = _filter(**body.model_dump(exclude={"dry_run", "limit"}))
    try:
        return await run_in_threadpool(ops.bulk, settings.database_url, f, action, dry_run=body.dry_run,
                                       limit=body.limit)
    except ops.FilterError as exc:
        raise ApiError(422, "validation_error", str(exc), [{"field": exc.field, "message": exc.message}]) from None


@router.post("/v1/ops/jobs/retry", responses=answers(BulkResult), openapi_extra=openapi_body(BulkRequest),
             summary="Requeue failed / dead-lettered jobs matching a filter; a dry run (the default) counts them")
async def bulk_retry(request: Request, caller: Caller = require("operate")):
    return await _bulk(request, "retry")


@router.post("/v1/ops/jobs/cancel", responses=answers(BulkResult), openapi_extra=openapi_body(BulkRequest),
             summary="Cancel queued / retrying / running jobs matching a filter; a dry run (the default) counts them")
async def bulk_cancel(request: Request, caller: Caller = require("operate")):
    return await _bulk(request, "cancel")


def _lines(rows: Iterator[dict], fmt: str) -> Iterator[str]:
    if fmt == "jsonl":
        for row in rows:
            yield json.dumps(row, default=str) + "\n"
        return
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=ops.EXPORT_FIELDS, extrasaction="ignore")
    writer.writeheader()
    for n, row in enumerate(rows):
        writer.writerow(row)
        if n % 200 == 199:
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()
    yield buf.getvalue()


@router.get("/v1/ops/jobs/export", responses=answers(None, media_type="application/x-ndjson",
                                                      description="JSON lines (or CSV with format=csv), streamed"),
            summary="Export job history for a time range, streamed (operators)")
def export_jobs(caller: Caller = require("operate"),
                format: Literal["jsonl", "csv"] = Query(default="jsonl", description="jsonl or csv"),
                since: datetime | None = Query(default=None, description="accepted at or after (default: 24 h ago)"),
                until: datetime | None = Query(default=None, description="accepted before (default: now)"),
                kind: str | None = Query(default=None, description="only this job kind"),
                state: str | None = Query(default=None, description="only this state"),
                caller_id: str | None = Query(default=None, alias="caller", description="only this API key's jobs"),
                error_code: str | None = Query(default=None, description="only jobs whose last error has this code"),
                payload: bool = Query(default=False, description="include each job's payload (JSON lines only)")):
    f = _filter(kind=kind, state=state, caller=caller_id, error_code=error_code,
                since=since or utcnow() - timedelta(days=1), until=until)
    rows = ops.export_rows(settings.database_url, f, with_payload=payload and format == "jsonl")
    media = "application/x-ndjson" if format == "jsonl" else "text/csv; charset=utf-8"
    name = f"jobs-{utcnow():%Y%m%dT%H%M%SZ}.{format}"
    return StreamingResponse(_lines(rows, format), media_type=media,
                             headers={"Content-Disposition": f'attachment; filename="{name}"'})
