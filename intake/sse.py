"""Server-sent events from ``job_events``: replay what is stored, then follow live.

Redis pub/sub only wakes the stream up; the rows are always read from the database, so a
late client gets everything already said, then the rest, and a lost publish costs nothing.
"""
from __future__ import annotations

import asyncio
import json
from typing import AsyncIterator, Callable

import redis.asyncio as aioredis
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from celeryconfig import settings
from domain.db import session_factory
from domain.jobs.models import JobEvent


def _fetch(where, after: int, limit: int = 500) -> list[dict]:
    with session_factory(settings.database_url)() as s:
        rows = s.scalars(select(JobEvent).where(where, JobEvent.id > after).order_by(JobEvent.id).limit(limit))
        return [r.to_dict() for r in rows]


def format_event(ev: dict) -> bytes:
    return f"id: {ev['id']}\nevent: {ev['type']}\ndata: {json.dumps(ev, default=str)}\n\n".encode()


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
