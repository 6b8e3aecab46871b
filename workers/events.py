"""Publish recorded job events to Redis pub/sub after the database commit succeeds.

The database is the source of truth (``job_events``); Redis only wakes up listeners,
so a lost publish costs latency, never data.
"""
from __future__ import annotations

import json
import logging
import threading

import redis
from sqlalchemy import event
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

CHANNEL_ALL = "cw:events"


def job_channel(job_id: str) -> str:
    return f"cw:job:{job_id}"


def user_channel(user_id: str) -> str:
    return f"cw:user:{user_id}"


_lock = threading.Lock()
_client: redis.Redis | None = None
_installed = False


def client(url: str | None = None) -> redis.Redis:
    global _client
    with _lock:
        if _client is None:
            from celeryconfig import settings

            _client = redis.Redis.from_url(url or settings.redis_url, socket_connect_timeout=2, socket_timeout=5)
        return _client


def reset_client() -> None:
    global _client
    _client = None


def publish(events: list) -> None:
    if not events:
        return
    try:
        pipe = client().pipeline(transaction=False)
        for ev in events:
            body = json.dumps(ev.to_dict(), default=str)
            pipe.publish(CHANNEL_ALL, body)
            if ev.job_id:
                pipe.publish(job_channel(ev.job_id), body)
            if ev.user_id:
                pipe.publish(user_channel(ev.user_id), body)
        pipe.execute()
    except redis.RedisError as exc:  # listeners fall back to reading job_events
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
            session.info["publish"] = [(r.id, r.job_id, r.available_at, kind) for r, kind in rows]

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
