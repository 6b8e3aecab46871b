"""Liveness, readiness (Redis and the database really checked) and Prometheus metrics."""
from __future__ import annotations

import os

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest, multiprocess
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from sqlalchemy import text
from starlette.concurrency import run_in_threadpool

from celeryconfig import settings
from domain.db import session_factory
from intake import platform_metrics as platform_metrics_module
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


@router.get("/readyz", responses={**answers(Readiness, description="ready"),
                                  503: {"model": Readiness, "description": "not ready: a check failed"}})
async def readyz(request: Request):
    db = await run_in_threadpool(_check_db)
    rd = await run_in_threadpool(_check_redis, request.app.state.redis)
    checks = {"database": db or "ok", "redis": rd or "ok"}
    ok = db is None and rd is None
    return JSONResponse({"status": "ready" if ok else "not_ready", "checks": checks}, status_code=200 if ok else 503)


def _process_metrics() -> bytes:
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:    # uvicorn --workers N: the sum of its processes
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry)
    return generate_latest(REGISTRY)


@router.get("/metrics", responses=answers(None, media_type="text/plain", description="Prometheus text format"),
            summary="This intake process's metrics: HTTP requests by route template, method and status")
async def metrics():
    return Response(_process_metrics(), media_type=CONTENT_TYPE_LATEST)


@router.get("/metrics/platform", responses=answers(None, media_type="text/plain",
                                                   description="Prometheus text format"),
            summary="Deployment-wide gauges (jobs by state, queues, outbox): scrape from one target only")
async def platform_metrics():
    body = await run_in_threadpool(platform_metrics_module.cached)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
