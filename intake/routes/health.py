"""Liveness, readiness (Redis and the database really checked) and Prometheus metrics."""
from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CollectorRegistry, Gauge, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from sqlalchemy import func, select, text
from starlette.concurrency import run_in_threadpool

from celeryconfig import CONTROL_QUEUE, FAMILY_QUEUES, settings
from domain.db import session_factory
from domain.jobs.models import Job, Outbox
from intake.openapi import answers
from intake.schemas.other import Health, Readiness

router = APIRouter(tags=["health"])


@router.get("/healthz", responses=answers(Health))
def healthz():
    return {"status": "ok"}


def _check_db() -> str | None:
    try:
        with session_factory(settings.database_url)() as s:
            s.execute(text("SELECT 1"))
        return None
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"[:300]


def _check_redis(r) -> str | None:
    try:
        r.ping()
        return None
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"[:300]


@router.get("/readyz", responses=answers(Readiness, errors=(503,)))
async def readyz(request: Request):
    db = await run_in_threadpool(_check_db)
    rd = await run_in_threadpool(_check_redis, request.app.state.redis)
    checks = {"database": db or "ok", "redis": rd or "ok"}
    ok = db is None and rd is None
    return JSONResponse({"status": "ready" if ok else "not_ready", "checks": checks}, status_code=200 if ok else 503)


def _metrics(r) -> bytes:
    reg = CollectorRegistry()
    jobs = Gauge("coursework_jobs", "Jobs by kind and state", ["kind", "state"], registry=reg)
    depth = Gauge("coursework_queue_depth", "Messages waiting in each broker queue", ["queue"], registry=reg)
    outbox = Gauge("coursework_outbox_pending", "Jobs accepted but not yet published", registry=reg)
    with session_factory(settings.database_url)() as s:
        for kind, state, n in s.execute(select(Job.kind, Job.state, func.count()).group_by(Job.kind, Job.state)):
            jobs.labels(kind, state).set(n)
        outbox.set(s.scalar(select(func.count()).select_from(Outbox).where(Outbox.published_at.is_(None))) or 0)
    for q in (*FAMILY_QUEUES, CONTROL_QUEUE):
        try:
            depth.labels(q).set(r.llen(q))
        except Exception:
            pass
    return generate_latest(reg)


@router.get("/metrics", responses=answers(None, media_type="text/plain", description="Prometheus text format"))
async def metrics(request: Request):
    body = await run_in_threadpool(_metrics, request.app.state.redis)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
