"""Pausing a queue: workers stop taking its jobs; intake still accepts them (they wait in the
broker and the database) until the queue is resumed.

The paused queues are a Redis set, so the pause outlives any worker: a worker that starts
while a queue is paused leaves it out before it consumes anything (``celeryd_after_setup``)
and checks again once ready, in case the pause came while it was starting. Running workers
are told through Celery's own broadcast (two remote-control commands registered here), and
a resumed queue is consumed again only by the workers started with it in their ``-Q``.

Jobs a worker had already reserved (at most its prefetch: concurrency x 1 here) still run.
"""
from __future__ import annotations

import logging

import redis
from celery import signals
from celery.worker.control import control_command

from celeryconfig import settings
from domain.registry import CONTROL_QUEUE, FAMILY_QUEUES

log = logging.getLogger(__name__)

PAUSED_KEY = "cw:queues:paused"
QUEUES = (*FAMILY_QUEUES, CONTROL_QUEUE)
_configured: set[str] = set()       # this worker's queues as started (its -Q)


class UnknownQueue(ValueError):
    def __init__(self, queue: str):
        super().__init__(f"unknown queue {queue!r}; queues: {', '.join(QUEUES)}")
        self.queue = queue


def _redis(url: str | None = None) -> redis.Redis:
    return redis.Redis.from_url(url or settings.redis_url, socket_connect_timeout=3, socket_timeout=5)


def paused(r: redis.Redis | None = None) -> set[str]:
    return {q.decode() for q in (r or _redis()).smembers(PAUSED_KEY)}


def _tell_workers(app, command: str, queue: str) -> list[str]:
    """Broadcast to every worker; the names of those that answered within a second."""
    replies = app.control.broadcast(command, arguments={"queue": queue}, reply=True, timeout=1.0) or []
    return sorted(name for reply in replies for name in reply)


def pause(queue: str, app=None) -> dict:
    """Pause ``queue`` (remembered in Redis, then broadcast). Returns the workers that answered."""
    if queue not in QUEUES:
        raise UnknownQueue(queue)
    if app is None:
        from workers.app import app
    _redis().sadd(PAUSED_KEY, queue)
    return {"queue": queue, "paused": True, "workers": _tell_workers(app, "cw_pause_queue", queue)}


def resume(queue: str, app=None) -> dict:
    if queue not in QUEUES:
        raise UnknownQueue(queue)
    if app is None:
        from workers.app import app
    _redis().srem(PAUSED_KEY, queue)
    return {"queue": queue, "paused": False, "workers": _tell_workers(app, "cw_resume_queue", queue)}


# --- in the worker --------------------------------------------------------------------------

@control_command(args=[("queue", str)], signature="<queue>")
def cw_pause_queue(state, queue: str):
    """Stop consuming ``queue`` (Coursework's pause)."""
    if queue in _consuming(state.consumer):
        state.consumer.cancel_task_queue(queue)
    return {"ok": f"not consuming {queue}"}


@control_command(args=[("queue", str)], signature="<queue>")
def cw_resume_queue(state, queue: str):
    """Consume ``queue`` again, if this worker was started with it."""
    if queue not in _configured:
        return {"ok": f"{queue} is not one of this worker's queues"}
    state.consumer.add_task_queue(queue)
    return {"ok": f"consuming {queue}"}


def _consuming(consumer) -> set[str]:
    tc = getattr(consumer, "task_consumer", None)
    return {q.name for q in tc.queues} if tc is not None else set()


@signals.celeryd_after_setup.connect
def _leave_out_paused(sender=None, instance=None, **_kw):
    queues = instance.app.amqp.queues
    _configured.clear()
    _configured.update(queues.consume_from)
    try:
        stopped = paused() & _configured
    except redis.RedisError as exc:
        log.warning("could not read the paused queues (%s); consuming all of %s", exc, sorted(_configured))
        return
    for queue in stopped:
        queues.deselect(queue)
    if stopped:
        log.warning("queues paused by an operator, not consumed: %s", ", ".join(sorted(stopped)))


@signals.worker_ready.connect
def _check_again(sender=None, **_kw):
    try:
        stopped = paused() & _consuming(sender)
    except redis.RedisError:
        return
    for queue in stopped:
        sender.cancel_task_queue(queue)


def report(db_url: str | None = None) -> list[dict]:
    """Every queue's health: the database's view (``domain.jobs.ops.queue_health``), the broker's
    depth and whether it is paused."""
    from domain.db import session_factory
    from domain.jobs import ops

    with session_factory(db_url or settings.database_url)() as s:
        health = ops.queue_health(s, list(QUEUES))
    r = _redis()
    try:
        pipe = r.pipeline()
        for queue in QUEUES:
            pipe.llen(queue)
        pipe.smembers(PAUSED_KEY)
        *depths, stopped = pipe.execute()
        stopped = {q.decode() for q in stopped}
    except redis.RedisError as exc:
        log.warning("broker depths unavailable: %s", exc)
        depths, stopped = [None] * len(QUEUES), set()
    return [{"queue": q, "paused": q in stopped, "broker_depth": d, **health[q]} for q, d in zip(QUEUES, depths)]
