"""Analytics on intake: batch event ingestion and read endpoints over the rollup tables."""
from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from celeryconfig import settings
from domain.analytics import queries
from domain.analytics.events import EventBatch, batch_errors
from domain.db import session_factory
from intake.auth import Caller, require, require_write
from intake.body import load_json, openapi_body
from intake.errors import ApiError
from intake.openapi import answers
from intake.schemas.other import CourseAnalytics, EventsAccepted, Leaderboard, LearnerAnalytics, PlatformAnalytics, TrendingCourses
from intake.routes.jobs import accept

router = APIRouter(tags=["analytics"])


def _parse_batch(raw: bytes) -> list:
    """The batch's events, validated (all or nothing), as pydantic models.

    The good path parses and validates in one pass in pydantic-core (``model_validate_json``),
    and hands the models on: validating them again for the job payload is then a type check,
    not a second parse of every event. A bad batch is parsed again the slow way, for the errors.
    """
    limit = settings.analytics_max_batch
    try:
        events = EventBatch.model_validate_json(raw).events
    except ValidationError:
        events = None
    if events is not None and len(events) <= limit:
        return events
    data = load_json(raw) if raw else None
    if not isinstance(data, dict) or not isinstance(data.get("events"), list):
        raise ApiError(422, "validation_error", "send {\"events\": [...]}",
                       [{"field": "events", "message": "expected a list of events"}])
    if len(data["events"]) > limit:
        raise ApiError(422, "validation_error", f"at most {limit} events per request",
                       [{"field": "events", "message": f"{len(data['events'])} events; the limit is {limit}"}])
    try:
        return EventBatch.model_validate(data).events
    except ValidationError as exc:
        raise ApiError(422, "validation_error", "the batch was rejected; no event of it was written",
                       batch_errors(exc.errors())) from None


@router.post("/v1/events", responses=answers(EventsAccepted, 202, errors=(409,)), status_code=202, summary="Ingest a batch of learning events (all or nothing)",
             openapi_extra=openapi_body(EventBatch))
async def post_events(request: Request, caller: Caller = require_write("analytics"),
                      idempotency_key: str | None = Header(default=None, max_length=200)):
    ctype = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
    if ctype and ctype != "application/json":
        raise ApiError(415, "unsupported_media_type", f"send application/json, not {ctype!r}")
    events = _parse_batch(await request.body())
    job, created = await run_in_threadpool(accept, caller.key_id, "ingest_events", {"events": events},
                                           idempotency_key)
    job.pop("payload", None)      # the caller has the events; do not echo a megabyte back
    headers = {"Location": f"/v1/jobs/{job['id']}"}
    if not created:
        headers["Idempotent-Replayed"] = "true"
    return JSONResponse({"job": job, "accepted": len(events),
                         "links": {"self": f"/v1/jobs/{job['id']}", "events": f"/v1/jobs/{job['id']}/events"}},
                        status_code=202, headers=headers)


def _read(fn, *args):
    with session_factory(settings.database_url)() as s:
        return fn(s, *args)


@router.get("/v1/analytics/courses/{course_id}", responses=answers(CourseAnalytics), summary="A course's daily rollups, totals and popularity")
def course_analytics(course_id: str, caller: Caller = require("read"),
                     start: date | None = None, end: date | None = None):
    out = _read(queries.course, course_id, start, end)
    if out is None:
        raise ApiError(404, "not_found", f"no analytics for course {course_id!r} yet")
    return out


@router.get("/v1/analytics/learners/{user_id}", responses=answers(LearnerAnalytics), summary="A learner's streaks, progress and weekly goal")
def learner_analytics(user_id: str, caller: Caller = require("read")):
    out = _read(queries.learner, user_id)
    if out is None:
        raise ApiError(404, "not_found", f"no analytics for learner {user_id!r}")
    return out


@router.get("/v1/analytics/leaderboard", responses=answers(Leaderboard), summary="Leaderboard of an exercise topic")
def leaderboard(caller: Caller = require("read"), topic: str | None = Query(default=None, max_length=64),
                limit: int = Query(default=20, ge=1, le=100)):
    if not topic:
        return {"topics": _read(queries.topics), "hint": "pass ?topic=<name> for its leaderboard"}
    return _read(queries.leaderboard, topic, limit)


@router.get("/v1/analytics/courses", responses=answers(TrendingCourses), summary="Trending courses")
def trending(caller: Caller = require("read"), limit: int = Query(default=20, ge=1, le=100)):
    return {"courses": _read(queries.popular_courses, limit)}


@router.get("/v1/analytics/platform", responses=answers(PlatformAnalytics), summary="Platform totals per day (operators)")
def platform(caller: Caller = require("operate"), start: date | None = None, end: date | None = None):
    return _read(queries.platform, start, end)
