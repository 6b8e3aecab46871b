"""Tutor endpoints: sessions and messages (API key), stream tokens, and the reply stream (SSE).

The browser never holds an API key: the web tier mints a short-lived stream token bound to one
session, and the browser follows ``GET /v1/tutor/sessions/{id}/stream?token=...``.
"""
from __future__ import annotations

import asyncio
from typing import Literal

import redis
from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from celeryconfig import settings
from domain.core import purpose_keys
from domain.core.fields import id_field, line, text
from domain.db import session_factory, unit_of_work
from domain.jobs import enqueueing
from domain.tutor import following, posting, replay, sessions, stream_tokens
from domain.tutor.budget import BudgetExhausted, DailyBudget
from domain.tutor.models import TutorSession
from intake import sse
from intake.auth import Caller, public, require, require_write
from intake.body import openapi_body, parse_json
from intake.errors import ApiError
from intake.openapi import answers
from intake.schemas.learning import StreamToken, TutorMessageAccepted, TutorSessionCreated, TutorSessionEnded, TutorSessionView

router = APIRouter(tags=["tutor"])
STREAM_DOC = ("`text/event-stream`: `start`, then `token` events (`data: {\"text\"}`), then `done` (the whole "
              "TutorMessage) or `error`; resume with `Last-Event-ID`")


class SessionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    user_id: str = id_field(description="the learner", examples=["u-1"])
    course_id: str = id_field(description="the course (its passages are the tutor's context)", examples=["c-1"])
    lesson_id: str | None = id_field(default=None, description="the lesson, to narrow the context",
                                     examples=["lesson-3"])
    exercise_id: str | None = id_field(default=None, description="the exercise the learner is on",
                                       examples=["ex-fizzbuzz"])
    mode: Literal["explain", "hint"] = Field(default="explain", examples=["hint"],
                                             description="explain freely, or give hints without the solution")
    topic: str = line(300, default="", description="what the learner wants help with", examples=["recursion"])


class MessageRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    content: str = text(4000, min_length=1, description="the learner's message",
                        examples=["Why does my loop never end?"])


def _links(session_id: str) -> dict:
    base = f"/v1/tutor/sessions/{session_id}"
    return {"self": base, "messages": f"{base}/messages", "stream_token": f"{base}/stream-token",
            "stream": f"{base}/stream"}


def _session(s, session_id: str) -> TutorSession:
    sess = s.get(TutorSession, session_id)
    if sess is None:
        raise ApiError(404, "not_found", f"no tutor session {session_id!r}")
    return sess


def _budget_error(exc: BudgetExhausted) -> ApiError:
    return ApiError(429, exc.code, exc.message, [{"field": "user_id", "message": "daily token budget spent"}],
                    headers={"Retry-After": str(exc.retry_after)})


@router.post("/v1/tutor/sessions", responses=answers(TutorSessionCreated, 201), status_code=201, summary="Start a tutor session for a learner",
             openapi_extra=openapi_body(SessionRequest))
async def create_session(request: Request, caller: Caller = require_write("tutor")):
    body = await parse_json(request, SessionRequest)

    def _create():
        with unit_of_work(settings.database_url) as s:
            return sessions.create(s, **body.model_dump()).to_dict()

    sess = await run_in_threadpool(_create)
    return JSONResponse({"session": sess, "links": _links(sess["id"])}, status_code=201)


@router.get("/v1/tutor/sessions/{session_id}", responses=answers(TutorSessionView), summary="A tutor session and its messages")
def get_session(session_id: str, caller: Caller = require("read")):
    with session_factory(settings.database_url)() as s:
        sess = _session(s, session_id)
        return {"session": sess.to_dict(), "messages": [m.to_dict() for m in sessions.messages(s, session_id)],
                "links": _links(session_id)}


@router.post("/v1/tutor/sessions/{session_id}/end", responses=answers(TutorSessionEnded), summary="End a tutor session")
def end_session(session_id: str, caller: Caller = require_write("tutor")):
    with unit_of_work(settings.database_url) as s:
        sess = _session(s, session_id)
        sessions.end(s, sess)
        return {"session": sess.to_dict()}


def _post(caller: Caller, session_id: str, content: str, idempotency_key: str | None, r) -> dict:
    budget = DailyBudget(r, settings.tutor_daily_token_budget)

    def check_budget(user_id: str) -> None:
        try:
            budget.check(user_id)
        except redis.RedisError:
            pass    # the worker checks again; intake keeps accepting while Redis is away

    try:
        return posting.post(settings.database_url, caller.key_id, session_id, content, idempotency_key, check_budget)
    except posting.SessionNotFound as exc:
        raise ApiError(404, exc.code, exc.message) from None
    except (sessions.SessionEnded, sessions.ReplyInProgress) as exc:
        raise ApiError(409, exc.code, exc.message) from None
    except BudgetExhausted as exc:
        raise _budget_error(exc) from None
    except enqueueing.IdempotencyConflict as exc:
        raise ApiError(409, "idempotency_conflict", str(exc),
                       [{"field": "Idempotency-Key", "message": f"already used for job {exc.job_id}"}]) from None


@router.post("/v1/tutor/sessions/{session_id}/messages", responses=answers(TutorMessageAccepted, 202, errors=(409,)), status_code=202,
             summary="Post the learner's message; a tutor_reply job answers it",
             openapi_extra=openapi_body(MessageRequest))
async def post_message(session_id: str, request: Request, caller: Caller = require_write("tutor"),
                       idempotency_key: str | None = Header(default=None, max_length=200)):
    body = await parse_json(request, MessageRequest)
    out = await run_in_threadpool(_post, caller, session_id, body.content, idempotency_key, request.app.state.redis)
    links = {**_links(session_id), "job": f"/v1/jobs/{out['job']['id']}"}
    headers = {"Idempotent-Replayed": "true"} if out.pop("replayed", False) else {}
    return JSONResponse({**out, "links": links}, status_code=202, headers=headers)


@router.post("/v1/tutor/sessions/{session_id}/stream-token", responses=answers(StreamToken), summary="Mint a short-lived token for the SSE stream")
def mint_stream_token(session_id: str, caller: Caller = require("read")):
    with session_factory(settings.database_url)() as s:
        _session(s, session_id)
    token, expires = stream_tokens.mint(purpose_keys.from_settings(settings, stream_tokens.PURPOSE), session_id,
                                       settings.tutor_stream_token_ttl)
    return {"token": token, "expires_at": expires,
            "stream_url": f"/v1/tutor/sessions/{session_id}/stream?token={token}"}


# ------------------------------------------------------------------------------------- SSE

def _events(events: list[following.Event]) -> list[bytes]:
    return [sse.message(event, data) for event, data in events]


async def _follow(reply_id: str, after: str, final: list[following.Event] | None, keepalive: float = 15.0):
    """``final``: the reply as stored, when it was over as the stream opened (served if Redis has
    expired it); a reply under way is followed in Redis straight away."""
    key = replay.stream_key(reply_id)
    r = sse.stream_redis()
    last, quiet, since_check = after, 0.0, 0.0
    if final is not None and not await r.exists(key):
        for chunk in _events(final):
            yield chunk
        return
    async with sse.xread_reader(r) as xread:
        while True:
            got = await xread(key, last)
            if got:
                quiet = since_check = 0.0
                events, ended = following.merge(got)
                last = events[-1][0]
                yield b"".join(sse.message(event, data, entry_id) for entry_id, event, data in events)
                if ended:
                    return
                continue
            quiet += 1.0
            since_check += 1.0
            if since_check >= 3.0:      # the job may have ended without a word (a bug, a lost worker)
                since_check = 0.0
                msg, job_state = await run_in_threadpool(following.reply_state, settings.database_url, reply_id)
                if msg is not None and (final := following.stored(msg, job_state)):
                    for chunk in _events(final):
                        yield chunk
                    return
            if quiet >= keepalive:
                quiet = 0.0
                yield b": keep-alive\n\n"
            await asyncio.sleep(0)


@router.get("/v1/tutor/sessions/{session_id}/stream", responses=answers(None, media_type="text/event-stream", errors=(401, 403), description=STREAM_DOC),
            summary="Server-sent events of a reply: start, token..., done (or error). Needs a stream token.")
async def stream(session_id: str, token: str = Query(min_length=1, max_length=500),
                 reply_id: str | None = Query(default=None, max_length=32),
                 last_event_id: str | None = Header(default=None, max_length=40), _limit: None = public()):
    try:
        stream_tokens.verify(purpose_keys.from_settings(settings, stream_tokens.PURPOSE), token, session_id)
    except stream_tokens.TokenError as exc:
        status = 403 if exc.code == "token_mismatch" else 401
        raise ApiError(status, exc.code, exc.message, [{"field": "token", "message": exc.message}]) from None

    try:
        rid, final = await run_in_threadpool(following.pick, settings.database_url, session_id, reply_id)
    except following.NotFound as exc:
        raise ApiError(404, exc.code, exc.message, exc.details or None) from None
    return StreamingResponse(_follow(rid, last_event_id or "0-0", final), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no", "X-Reply-Id": rid})
