"""Deployment-wide gauges from the database and the broker, served on ``/metrics/platform``.

They describe the whole deployment, not the intake process that answers: scrape that path
from ONE target (e.g. the intake service's address, not every replica), or ``sum()`` would
count them once per replica. Every query is bounded by an index on ``state`` (live states and
dead letters only, never the whole history) and answers are kept ``CACHE_SECONDS`` so a few
scrapers cost one set of queries. Per-process metrics (HTTP requests) are on ``/metrics``.
"""
from __future__ import annotations

import threading
import time

from prometheus_client import CollectorRegistry, Gauge, generate_latest
from sqlalchemy import func, select

from celeryconfig import settings
from domain.db import session_factory, utcnow
from domain.jobs import states
from domain.jobs.models import Job, Outbox

CACHE_SECONDS = 5.0
LIVE = (states.QUEUED, states.RUNNING, states.RETRYING, states.DEAD_LETTERED)
_lock = threading.Lock()
_cached: tuple[float, bytes] | None = None


def _consumers(queues) -> dict[str, int] | None:
    """How many live workers consume each queue (Celery's inspect; None if no worker answered)."""
    from workers.app import app

    replies = app.control.inspect(timeout=1.0).active_queues()
    if replies is None:
        return None
    counts = {q: 0 for q in queues}
    for worker_queues in replies.values():
        for q in worker_queues or []:
            if q["name"] in counts:
                counts[q["name"]] += 1
    return counts


def _paused_email_channels() -> dict[str, float] | None:
    import redis

    from domain.notifications.ratelimit import paused_channels

    try:
        client = redis.Redis.from_url(settings.redis_url, socket_timeout=1, socket_connect_timeout=1)
        try:
            return paused_channels(client)
        finally:
            client.close()
    except redis.RedisError:       # Redis away: leave the gauge out rather than claim no pause
        return None


def collect() -> bytes:
    from workers import queue_control

    reg = CollectorRegistry()
    jobs = Gauge("coursework_jobs", "Jobs in a live state (queued, running, retrying) or dead-lettered, by kind",
                 ["kind", "state"], registry=reg)
    depth = Gauge("coursework_queue_depth", "Messages waiting in each broker queue", ["queue"], registry=reg)
    paused = Gauge("coursework_queue_paused", "1 when an operator paused the queue", ["queue"], registry=reg)
    oldest = Gauge("coursework_queue_oldest_waiting_seconds", "Age of the oldest due job waiting to start "
                   "(0 when none waits)", ["queue"], registry=reg)
    running = Gauge("coursework_queue_running", "Jobs running now", ["queue"], registry=reg)
    consumers = Gauge("coursework_queue_consumers", "Live workers consuming the queue (Celery inspect)", ["queue"],
                      registry=reg)
    outbox = Gauge("coursework_outbox_pending", "Jobs accepted and due but not yet published", registry=reg)
    outbox_age = Gauge("coursework_outbox_oldest_seconds", "Age of the oldest due, unpublished outbox row "
                       "(0 when none)", registry=reg)
    email_paused = Gauge("coursework_email_channel_paused_seconds", "Seconds left of an email channel's pause "
                         "(the provider refused the account, rate-limited or was down); 0: sending", ["provider"],
                         registry=reg)
    now = utcnow()
    with session_factory(settings.database_url)() as s:
        for kind, state, n in s.execute(select(Job.kind, Job.state, func.count())
                                        .where(Job.state.in_(LIVE)).group_by(Job.kind, Job.state)):
            jobs.labels(kind, state).set(n)
        due = (Outbox.published_at.is_(None), Outbox.available_at <= now)
        outbox.set(s.scalar(select(func.count()).select_from(Outbox).where(*due)) or 0)
        first = s.scalar(select(Outbox.available_at).where(*due).order_by(Outbox.available_at).limit(1))
    outbox_age.set(max(0.0, (now - first).total_seconds()) if first else 0)
    for q in queue_control.report():
        paused.labels(q["queue"]).set(1 if q["paused"] else 0)
        oldest.labels(q["queue"]).set(q["oldest_waiting_seconds"] or 0)
        running.labels(q["queue"]).set(q["running"])
        if q["broker_depth"] is not None:
            depth.labels(q["queue"]).set(q["broker_depth"])
    paused_channels = _paused_email_channels()
    if paused_channels is not None:      # the configured provider shows 0 while it sends
        for provider, seconds in {settings.email_provider: 0.0, **paused_channels}.items():
            email_paused.labels(provider).set(seconds)
    try:
        counts = _consumers(queue_control.QUEUES) or {q: 0 for q in queue_control.QUEUES}
    except Exception:   # broker away: leave the gauge out rather than claim zero consumers
        counts = {}
    for q, n in counts.items():
        consumers.labels(q).set(n)
    return generate_latest(reg)


def cached() -> bytes:
    global _cached
    with _lock:
        if _cached is None or time.monotonic() - _cached[0] > CACHE_SECONDS:
            _cached = (time.monotonic(), collect())
        return _cached[1]
