"""Tutor endpoints: sessions and messages (API key), stream tokens, and the reply stream (SSE).

The browser never holds an API key: the web tier mints a short-lived stream token bound to one
session, and the browser follows ``GET /v1/tutor/sessions/{id}/stream?token=...``.
"""
from __future__ import annotations

import asyncio
import json
import threading
from contextlib import asynccontextmanager, contextmanager
from typing import Literal

import redis
import redis.asyncio as aioredis
from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Row, bindparam, select
from starlette.concurrency import run_in_threadpool

from celeryconfig import settings
from domain.core import purpose_keys
from domain.core.fields import id_field, line, text
from domain.db import get_engine, new_id, session_factory, unit_of_work
from domain.jobs import service, states
from domain.jobs.models import Job
from domain.tutor import replay, sessions, stream_tokens
from domain.tutor.budget import BudgetExhausted, DailyBudget
from domain.tutor.models import TutorMessage, TutorSession, message_dict
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


class _Replayed(Exception):
    def __init__(self, job_id: str):
        self.job_id = job_id


# messages are written two at a time per intake process: under a burst, threads sharing one
# interpreter otherwise take turns, so every job of the burst is published late; taken (almost) in
# turn, the first ones are published at once and the worker starts on them while the rest are
# written (bench: the median claim 25-55 ms earlier with 20 simultaneous messages). Only an order:
# a message that waits 50 ms for its turn (a slow database or Redis) goes ahead anyway.
_POSTING = threading.BoundedSemaphore(2)


@contextmanager
def _in_turn(wait: float = 0.05):
    turn = _POSTING.acquire(timeout=wait)
    try:
        yield
    finally:
        if turn:
            _POSTING.release()


def _post(caller: Caller, session_id: str, content: str, idempotency_key: str | None, r) -> dict:
    """One transaction, four statements: the session (locked) with its replies in flight, the job
    (with its outbox row and event), both messages, and the commit; the budget is one Redis GET."""
    try:
        with _in_turn(), unit_of_work(settings.database_url) as s:
            target = sessions.target_for_post(s, session_id)
            if target is None:
                raise ApiError(404, "not_found", f"no tutor session {session_id!r}")
            if idempotency_key:     # a retried POST: answer with the first request's reply
                earlier = s.scalar(select(Job).where(Job.caller == caller.key_id,
                                                     Job.idempotency_key == idempotency_key))
                if earlier is not None:
                    if earlier.kind != "tutor_reply" or earlier.payload.get("session_id") != session_id:
                        raise service.IdempotencyConflict(earlier.id)
                    raise _Replayed(earlier.id)
            try:
                DailyBudget(r, settings.tutor_daily_token_budget).check(target.user_id)
            except redis.RedisError:
                pass    # the worker checks again; intake keeps accepting while Redis is away
            try:
                target.check(s)
            except (sessions.SessionEnded, sessions.ReplyInProgress) as exc:
                raise ApiError(409, exc.code, exc.message) from None
            reply_id = new_id()     # chosen before its job is written: the job carries it
            # the reply is written just below, in this transaction: nothing for the kind's check to look up
            job, created = service.enqueue(s, "tutor_reply", {"session_id": session_id, "reply_id": reply_id},
                                           caller=caller.key_id, idempotency_key=idempotency_key, check_data=False)
            if not created:
                raise _Replayed(job.id)     # roll back; answer with the first request's
            question, reply = sessions.add_turn(s, session_id, content, reply_id, job.id)
            out = {"message": question, "reply": reply, "job": job.to_dict()}
    except BudgetExhausted as exc:
        raise _budget_error(exc) from None
    except service.IdempotencyConflict as exc:
        raise ApiError(409, "idempotency_conflict", str(exc),
                       [{"field": "Idempotency-Key", "message": f"already used for job {exc.job_id}"}]) from None
    except _Replayed as replayed:
        with session_factory(settings.database_url)() as s:
            job = s.get(Job, replayed.job_id)
            reply = s.get(TutorMessage, job.payload["reply_id"])
            return {"reply": reply.to_dict(), "job": job.to_dict(), "replayed": True}
    return out


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

_async_redis: aioredis.Redis | None = None


def _aredis() -> aioredis.Redis:
    global _async_redis
    if _async_redis is None:
        # RESP2: redis-py 8 speaks RESP3 by default and turns XREAD's answer back into this shape,
        # parsing more (~15% of the CPU of each XREAD, and a stream makes one per batch of tokens)
        _async_redis = aioredis.from_url(settings.redis_url, socket_connect_timeout=2, protocol=2)
    return _async_redis


_READ_TRIES = 3      # as the client's own retry: a broken connection is replaced, the read tried again


@asynccontextmanager
async def _reader(r: aioredis.Redis):
    """``xread(key, after)`` for one stream: ``XREAD BLOCK`` on a connection of its own, held for the
    stream's life (each ``r.xread`` takes a pooled connection and gives it back, through redis-py's
    retry and instrumentation layers: ~15% of the CPU of a wake-up, and a stream wakes up for each
    batch of tokens). Answers ``[(entry id, {field: value}), ...]``, empty when the block timed out."""
    pool = r.connection_pool
    conn = await pool.get_connection()

    async def xread(key: str, after: str) -> list:
        for attempt in range(_READ_TRIES):
            try:
                await conn.send_command("XREAD", "COUNT", 500, "BLOCK", 1000, "STREAMS", key, after)
                got = await conn.read_response()
                break
            except (redis.ConnectionError, redis.TimeoutError, OSError):
                await conn.disconnect()         # the next send connects again
                if attempt == _READ_TRIES - 1:
                    raise
                await asyncio.sleep(0.1 * 2 ** attempt)
        return [(entry_id, dict(zip(fields[::2], fields[1::2]))) for entry_id, fields in got[0][1]] if got else []

    try:
        yield xread
    finally:
        # a read cut short (the browser left) has already dropped the connection (redis-py disconnects
        # on any error while reading), so no late answer reaches the next stream; give it back even
        # while being cancelled
        await asyncio.shield(pool.release(conn))


def _sse(event: str, data: dict, event_id: str | None = None) -> bytes:
    head = f"id: {event_id}\n" if event_id else ""
    return f"{head}event: {event}\ndata: {json.dumps(data, default=str)}\n\n".encode()


# built once
_WITH_JOB_STATE = (select(*TutorMessage.__table__.columns, Job.state.label("job_state"))
                   .outerjoin(Job, Job.id == TutorMessage.job_id))
_REPLY_STATE = _WITH_JOB_STATE.where(TutorMessage.id == bindparam("reply_id"))
_LATEST_REPLY_STATE = (_WITH_JOB_STATE
                       .where(TutorMessage.session_id == bindparam("session_id"), TutorMessage.role == "assistant")
                       .order_by(TutorMessage.created_at.desc(), TutorMessage.id.desc()).limit(1))


def _state(stmt, params: dict) -> tuple[Row | None, str | None]:
    # one read, autocommitted: no BEGIN and ROLLBACK round trips around it
    with get_engine(settings.database_url).connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        row = conn.execute(stmt, params).first()
    return (row, row.job_state) if row else (None, None)


def _reply_state(reply_id: str) -> tuple[Row | None, str | None]:
    """(the reply's row, its job's state), one query."""
    return _state(_REPLY_STATE, {"reply_id": reply_id})


def _from_database(msg: Row, job_state: str | None) -> list[bytes] | None:
    """The whole reply from the database, when Redis no longer (or never) has it and it is over."""
    if msg.status == "complete":
        body = message_dict(msg)
        return [_sse("start", {"attempt": 0, "replayed_from": "database"}),
                _sse("token", {"text": body["content"]}), _sse("done", body)]
    if msg.status == "failed" or job_state in states.TERMINAL:
        return [_sse("error", {"code": "reply_failed", "message": msg.error or f"job {job_state}"})]
    return None


def _merge(entries) -> tuple[list[tuple[str, bytes]], bool]:
    """SSE events for a batch of stream entries: consecutive tokens already waiting are sent as
    one ``token`` event (ids stay resumable: it carries the last one). Returns (id, bytes) pairs
    up to a final entry, and whether one was reached."""
    out: list[tuple[str, bytes]] = []
    text: list[str] = []
    text_id = ""
    for entry_id, fields in entries:
        entry_id = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
        kind, data = replay.decode(fields)
        if kind == "token":
            text.append(data.get("text", ""))
            text_id = entry_id
            continue
        if text:
            out.append((text_id, _sse("token", {"text": "".join(text)}, text_id)))
            text = []
        out.append((entry_id, _sse(kind, data, entry_id)))
        if kind in replay.FINAL:
            return out, True
    if text:
        out.append((text_id, _sse("token", {"text": "".join(text)}, text_id)))
    return out, False


async def _follow(reply_id: str, after: str, final: list[bytes] | None, keepalive: float = 15.0):
    """``final``: the reply as stored, when it was over as the stream opened (served if Redis has
    expired it); a reply under way is followed in Redis straight away."""
    key = replay.stream_key(reply_id)
    r = _aredis()
    last, quiet, since_check = after, 0.0, 0.0
    if final is not None and not await r.exists(key):
        for chunk in final:
            yield chunk
        return
    async with _reader(r) as xread:
        while True:
            got = await xread(key, last)
            if got:
                quiet = since_check = 0.0
                chunks, ended = _merge(got)
                last = chunks[-1][0]
                yield b"".join(body for _, body in chunks)
                if ended:
                    return
                continue
            quiet += 1.0
            since_check += 1.0
            if since_check >= 3.0:      # the job may have ended without a word (a bug, a lost worker)
                since_check = 0.0
                msg, job_state = await run_in_threadpool(_reply_state, reply_id)
                if msg is not None and (final := _from_database(msg, job_state)):
                    for chunk in final:
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

    def _pick() -> tuple[str, list[bytes] | None]:
        """The reply to follow (the one named, else the session's latest) and, if it is over already,
        its stored form: one query when the session has it."""
        if reply_id:
            msg, job_state = _reply_state(reply_id)
            if msg is not None and msg.session_id == session_id and msg.role == "assistant":
                return msg.id, _from_database(msg, job_state)
            with session_factory(settings.database_url)() as s:
                _session(s, session_id)
            raise ApiError(404, "not_found", f"no reply {reply_id!r} in this session",
                           [{"field": "reply_id", "message": "not a reply of this session"}])
        msg, job_state = _state(_LATEST_REPLY_STATE, {"session_id": session_id})   # the session's latest reply
        if msg is None:
            with session_factory(settings.database_url)() as s:
                _session(s, session_id)
            raise ApiError(404, "not_found", "this session has no reply to follow yet")
        return msg.id, _from_database(msg, job_state)

    rid, final = await run_in_threadpool(_pick)
    return StreamingResponse(_follow(rid, last_event_id or "0-0", final), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no", "X-Reply-Id": rid})
