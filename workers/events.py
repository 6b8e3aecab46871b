"""Publish recorded job events to Redis pub/sub after the database commit succeeds.

The database is the source of truth (``job_events``); Redis only wakes up listeners,
so a lost publish costs latency, never data.
"""
from __future__ import annotations

import atexit
import json
import logging

import redis
from sqlalchemy import event
from sqlalchemy.orm import Session

from workers.batching import BatchingThread
from workers.per_process import PerProcess

log = logging.getLogger(__name__)

CHANNEL_ALL = "cw:events"


def job_channel(job_id: str) -> str:
    return f"cw:job:{job_id}"


def user_channel(user_id: str) -> str:
    return f"cw:user:{user_id}"


_installed = False


def _connect() -> redis.Redis:
    from celeryconfig import settings

    return redis.Redis.from_url(settings.redis_url, socket_connect_timeout=2, socket_timeout=5)


client = PerProcess(_connect)       # this process's Redis client for events


def reset_client() -> None:
    client.reset()


def _start_publisher() -> BatchingThread:
    """The process's event publisher: events recorded while a pipeline is in flight share the
    next round trip (a busy worker sends a handful per round trip instead of one each), in order."""
    started = BatchingThread("event-publisher", lambda messages: send(messages))
    atexit.register(started.flush, 2.0)
    return started


publisher = PerProcess(_start_publisher)   # this process's publisher


def publish(events: list) -> None:
    """Publish events on ``cw:events`` and their job's and user's channels, off this thread.
    They are serialized here, as they are now."""
    if not events:
        return
    messages = []
    for ev in events:
        body = json.dumps(ev.to_dict(), default=str)
        messages.append((CHANNEL_ALL, body))
        if ev.job_id:
            messages.append((job_channel(ev.job_id), body))
        if ev.user_id:
            messages.append((user_channel(ev.user_id), body))
    publisher().add(messages)


def send(messages: list[tuple[str, str]]) -> None:
    """One pipeline for the ``(channel, body)`` messages."""
    try:
        pipe = client().pipeline(transaction=False)
        for channel, body in messages:
            pipe.publish(channel, body)
        pipe.execute()
    except Exception as exc:  # listeners fall back to reading job_events
        log.warning("event publish failed: %s", exc)


def install() -> None:
    """Hook every Session: after commit, publish its recorded events and the jobs it enqueued
    (``workers.relay.publish_committed``); drop both on rollback."""
    global _installed
    if _installed:
        return
    _installed = True

    @event.listens_for(Session, "before_commit")
    def _before_commit(session):
        rows = session.info.get("publish")
        if rows:   # outbox ids exist after the flush; read them while the session can still load
            session.flush()
            session.info["publish"] = [(r.id, r.job_id, r.available_at, kind, payload) for r, kind, payload in rows]

    @event.listens_for(Session, "after_commit")
    def _after_commit(session):
        from workers.relay import publish_committed

        publish(session.info.pop("events", []))
        rows = session.info.pop("publish", [])
        if rows:
            publish_committed(session, rows)

    @event.listens_for(Session, "after_soft_rollback")
    def _after_rollback(session, previous_transaction):
        if previous_transaction.parent is None:
            session.info.pop("events", None)
            session.info.pop("publish", None)
