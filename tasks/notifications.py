"""Tasks of the notifications family (queue ``notifications``): thin wrappers over
``domain/notifications``. The Redis-backed shared rate limit is wired in here."""
from __future__ import annotations

import logging
import threading
from datetime import date

import redis

from celeryconfig import settings
from domain.core import purpose_keys
from domain.db import unit_of_work
from domain.jobs import enqueueing
from domain.jobs.errors import InvalidPayload
from domain.notifications import deliveries, digest, fanout, providers, sending, unsubscribe
from domain.notifications.models import Notification
from domain.notifications.ratelimit import RateLimiter
from workers.app import app
from workers.base import job_task
from workers.events import user_channel
from workers.per_process import PerProcess

log = logging.getLogger(__name__)


_held = PerProcess(threading.local)     # this process's per-thread slots (a forked child starts empty)


def _provider(settings) -> providers.EmailProvider:
    """This thread's provider, kept across jobs: an SMTP connection is opened once per worker
    thread, not once per chunk (``SmtpProvider`` reconnects if the server dropped it meanwhile)."""
    held = _held()
    if getattr(held, "provider", None) is None:
        held.provider = providers.from_settings(settings)
    return held.provider


def _drop_provider() -> None:
    held = _held()
    provider, held.provider = getattr(held, "provider", None), None
    if provider is not None:
        provider.close()


def _sender(ctx) -> sending.Sender:
    provider = _provider(ctx.settings)
    config = sending.SendConfig(sender=ctx.settings.email_from, base_url=ctx.settings.public_base_url,
                                secret=purpose_keys.from_settings(ctx.settings, unsubscribe.PURPOSE),
                                stale_after=float(ctx.settings.lease_seconds),
                                defer_cap=float(ctx.settings.retry_backoff_max),
                                pause_default=min(60.0, float(ctx.settings.retry_backoff_max)))
    limiter = RateLimiter(ctx.redis, provider.name, ctx.settings.email_rate_per_second)
    return sending.Sender(ctx.uow, ctx.db_engine, provider, config, ctx.owner, limiter)


# PUBLISH each (channel, message) pair of ARGV: one command for a whole chunk instead of a
# pipeline of one PUBLISH per learner
PUBLISH_MANY = "for i = 1, #ARGV, 2 do redis.call('PUBLISH', ARGV[i], ARGV[i + 1]) end return #ARGV / 2"
PUBLISH_BATCH = 1000
_publish_many = None    # PUBLISH_MANY registered on the worker's Redis client, made once


def _publish_script(client):
    """PUBLISH_MANY as a script object, made once per Redis client (the worker has one; after
    ``reset_client`` the next call registers it on the new client)."""
    global _publish_many
    script = _publish_many
    if script is None or script.registered_client is not client:
        script = _publish_many = client.register_script(PUBLISH_MANY)
    return script


def _publish_user_events(ctx, session) -> None:
    """After the commit: wake each learner's stream (``cw:user:<id>``); the rows are the truth.
    The events come as ``(user_id, JSON text)`` pairs (PostgreSQL wrote the JSON)."""
    events = session.info.pop(deliveries.USER_EVENTS, [])
    if not events:
        return
    try:
        script = _publish_script(ctx.redis)
        for i in range(0, len(events), PUBLISH_BATCH):
            args = []
            for user_id, message in events[i:i + PUBLISH_BATCH]:
                args += (user_channel(user_id), message)
            script(keys=[], args=args)
    except redis.RedisError as exc:     # listeners read job_events anyway; a lost wake-up costs latency
        log.warning("notification events not published: %s", exc)


def _send(ctx, where: tuple) -> dict:
    sender = _sender(ctx)
    try:
        return sender.send_all(where, control=ctx)
    except BaseException:       # whatever state the connection is in, the next job starts afresh
        _drop_provider()
        raise


@job_task("notify")
def notify(ctx, p):
    """One notification to one user: in-app item (+ live event) and email, per preferences."""
    with ctx.uow() as session:
        data = deliveries.with_course_title(session, p.data)
        note = deliveries.upsert_notification(session, type_name=p.type, data=data, title=p.title, body=p.body,
                                              link=p.link, dedupe_key=p.dedupe_key or f"job:{ctx.job_id}",
                                              course_id=data.get("course_id"))
        created = deliveries.add_deliveries(session, note, [p.user_id], job_id=ctx.job_id)
        note_id = note.id
    _publish_user_events(ctx, session)
    email = _send(ctx, sending.scope(note_id, user_id=p.user_id))
    return {"notification_id": note_id, "created": created, "email": email}


@job_task("announce")
def announce(ctx, p):
    """Resolve the course's learners a page at a time and start one sub-job per page."""
    with ctx.uow() as session:
        data = deliveries.with_course_title(session, {"course_id": p.course_id, "sender_id": p.sender_id})
        note = deliveries.upsert_notification(session, type_name="course_announcement", data=data, title=p.title,
                                              body=p.body, link=p.link, course_id=p.course_id,
                                              priority=p.priority, dedupe_key=f"announce:{ctx.job_id}")
        note_id = note.id
    after, chunks, recipients = "", 0, 0
    while True:
        ctx.check_cancelled()
        with ctx.uow() as session:
            ids = fanout.page(session, p.course_id, after, ctx.settings.notify_chunk_size)
            if not ids:
                break
            payload = {"notification_id": note_id, "course_id": p.course_id, "after": after, "until": ids[-1]}
            ctx.enqueue("notify_chunk", payload, fanout.chunk_key(note_id, after, ids[-1]), session=session)
        chunks, recipients, after = chunks + 1, recipients + len(ids), ids[-1]
        ctx.progress(50, f"{recipients} recipients in {chunks} chunks")
    return {"notification_id": note_id, "chunks": chunks, "recipients": recipients}


@job_task("notify_chunk")
def notify_chunk(ctx, p):
    """One page of an announcement: delivery rows (in-app now), then the emails, exactly once."""
    with ctx.uow() as session:
        note = session.get(Notification, p.notification_id)
        if note is None:
            raise InvalidPayload("notification_id", f"no notification {p.notification_id!r}")
        users = fanout.recipients(p.course_id, p.after, p.until)
        created = deliveries.add_deliveries(session, note, users, job_id=ctx.job_id)
        recipients = fanout.count(session, users)
    _publish_user_events(ctx, session)
    email = _send(ctx, sending.scope(p.notification_id, after=p.after, until=p.until))
    return {"recipients": recipients, "created": created, "email": email}


@job_task("send_digest")
def send_digest(ctx, p):
    with ctx.uow() as session:
        note = digest.build(session, p.user_id, p.day, job_id=ctx.job_id)
        if note is None:
            return {"items": 0}
        note_id, items = note.id, len(note.data.get("items", []))
    _publish_user_events(ctx, session)
    return {"notification_id": note_id, "items": items,
            "email": _send(ctx, sending.scope(note_id, user_id=p.user_id))}


@app.task(name="tasks.notifications.queue_digests", queue="notifications", acks_late=False)
def queue_digests(day: str | None = None, page: int = 1000) -> dict:
    """Beat entry: one ``send_digest`` job per user with items waiting (keyed per user and day,
    so a doubled run starts nothing new)."""
    from workers.relay import relay_once

    the_day = date.fromisoformat(day) if day else date.today()
    after, started = "", 0
    while True:
        with unit_of_work(settings.database_url) as session:
            users = digest.users_waiting(session, after, page)
            for uid in users:
                _, created = enqueueing.enqueue(session, "send_digest", {"user_id": uid, "day": the_day.isoformat()},
                                             idempotency_key=f"digest:{uid}:{the_day.isoformat()}")
                started += created
        if len(users) < page:
            break
        after = users[-1]
    relay_once()
    return {"started": started, "day": the_day.isoformat()}


@app.task(name="tasks.notifications.purge_expired_in_app", queue="notifications", acks_late=False)
def purge_expired_in_app(batch: int = 5000) -> dict:
    """Beat: delete expired in-app notifications, a bounded batch per run."""
    from domain.notifications import inbox

    with unit_of_work(settings.database_url) as session:
        return {"deleted": inbox.purge_expired(session, batch)}
