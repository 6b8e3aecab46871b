"""Server-sent events from ``job_events``: replay what is stored, then follow live.

Redis pub/sub only wakes the stream up; the rows are always read from the database, so a
late client gets everything already said, then the rest, and a lost publish costs nothing.
"""
from __future__ import annotations

import asyncio
import json
from contextlib import asynccontextmanager
from typing import AsyncIterator, Callable

import redis
import redis.asyncio as aioredis
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from celeryconfig import settings
from domain.db import session_factory
from domain.jobs.models import JobEvent
from workers.per_process import PerProcess


def _fetch(where, after: int, limit: int = 500) -> list[dict]:
    with session_factory(settings.database_url)() as s:
        rows = s.scalars(select(JobEvent).where(where, JobEvent.id > after).order_by(JobEvent.id).limit(limit))
        return [r.to_dict() for r in rows]


def message(event: str, data: dict, event_id: str | int | None = None) -> bytes:
    """One server-sent event: ``id:`` (when given), ``event:`` and one JSON ``data:`` line."""
    head = f"id: {event_id}\n" if event_id else ""
    return f"{head}event: {event}\ndata: {json.dumps(data, default=str)}\n\n".encode()


def format_event(ev: dict) -> bytes:
    """A stored job event (``JobEvent.to_dict()``) as a server-sent event."""
    return message(ev["type"], ev, ev["id"])


async def stream(where, channel: str, after: int = 0, until: Callable[[dict], bool] | None = None,
                 is_done: Callable[[], bool] | None = None, idle_ping: float = 15.0) -> AsyncIterator[bytes]:
    pubsub = None
    try:
        client = aioredis.from_url(settings.redis_url, socket_connect_timeout=2)
        pubsub = client.pubsub()
        await pubsub.subscribe(channel)
    except Exception:
        pubsub = None
    last, quiet = after, 0.0
    try:
        while True:
            events = await run_in_threadpool(_fetch, where, last)
            for ev in events:
                last = ev["id"]
                yield format_event(ev)
                if until and until(ev):
                    return
            if not events and is_done is not None and await run_in_threadpool(is_done):
                # the end may have been committed after our last read: drain, then stop
                for ev in await run_in_threadpool(_fetch, where, last):
                    yield format_event(ev)
                return
            waited = 0.5
            if pubsub is not None:
                try:
                    msg = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                    waited = 0.0 if msg else 1.0
                except Exception:
                    pubsub = None
            if pubsub is None:
                await asyncio.sleep(0.5)
            quiet = 0.0 if events else quiet + waited
            if quiet >= idle_ping:
                quiet = 0.0
                yield b": keep-alive\n\n"
    finally:
        if pubsub is not None:
            try:
                await pubsub.aclose()
            except Exception:
                pass


def _stream_redis() -> aioredis.Redis:
    # RESP2: redis-py 8 speaks RESP3 by default and turns XREAD's answer back into this shape,
    # parsing more (~15% of the CPU of each XREAD, and a stream makes one per batch of entries)
    return aioredis.from_url(settings.redis_url, socket_connect_timeout=2, protocol=2)


stream_redis = PerProcess(_stream_redis)     # this process's client for reading Redis streams

_READ_TRIES = 3      # as the client's own retry: a broken connection is replaced, the read tried again


@asynccontextmanager
async def xread_reader(r: aioredis.Redis):
    """``xread(key, after)`` for one stream: ``XREAD BLOCK`` on a connection of its own, held for the
    stream's life (each ``r.xread`` takes a pooled connection and gives it back, through redis-py's
    retry and instrumentation layers: ~15% of the CPU of a wake-up, and a stream wakes up for each
    batch of entries). Answers ``[(entry id, {field: value}), ...]``, empty when the block timed out."""
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
