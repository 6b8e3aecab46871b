"""Create notifications and their delivery rows, idempotently.

A notification is unique by ``dedupe_key``; a delivery by (notification, recipient, channel).
Both are inserted with ON CONFLICT DO NOTHING, so a rerun adds nothing and announces nothing
twice: the ``notification.created`` event is recorded only for in-app rows actually inserted.
"""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from domain.db import new_id, utcnow
from domain.jobs.models import JobEvent
from domain.notifications import preferences, render, types
from domain.notifications.models import DIGEST, PENDING, SENT, Delivery, Notification
from domain.notifications.sql import insert_ignore


def upsert_notification(session: Session, *, type_name: str, data: dict, dedupe_key: str,
                        title: str | None = None, body: str = "", link: str | None = None,
                        course_id: str | None = None, priority: str | None = None) -> Notification:
    kind = types.get(type_name)
    now = utcnow()
    row = {"id": new_id(), "type": type_name, "priority": priority or kind.priority,
           "title": (title or render.subject(type_name, data))[:300], "body": body, "link": link,
           "data": data, "course_id": course_id, "dedupe_key": dedupe_key, "created_at": now,
           "expires_at": now + timedelta(days=kind.expires_days) if kind.expires_days else None}
    insert_ignore(session, Notification.__table__, [row])
    return session.scalar(select(Notification).where(Notification.dedupe_key == dedupe_key))


def add_deliveries(session: Session, notification: Notification, user_ids: list[str],
                   job_id: str | None = None) -> dict[str, int]:
    """Delivery rows for these recipients per their preferences; returns counts of new rows."""
    email_modes = preferences.modes(session, user_ids, notification.type, types.EMAIL)
    app_modes = preferences.modes(session, user_ids, notification.type, types.IN_APP)
    if notification.priority == types.URGENT:
        email_modes = dict.fromkeys(user_ids, types.IMMEDIATE)
        app_modes = dict.fromkeys(user_ids, types.IMMEDIATE)
    now = utcnow()
    rows = []
    for uid in user_ids:
        if app_modes[uid] != types.OFF:
            rows.append({"id": new_id(), "notification_id": notification.id, "user_id": uid,
                         "channel": types.IN_APP, "status": SENT, "attempts": 0, "sent_at": now,
                         "expires_at": notification.expires_at, "created_at": now})
        if email_modes[uid] != types.OFF:
            rows.append({"id": new_id(), "notification_id": notification.id, "user_id": uid,
                         "channel": types.EMAIL, "status": DIGEST if email_modes[uid] == types.DIGEST else PENDING,
                         "attempts": 0, "sent_at": None, "expires_at": None, "created_at": now})
    inserted = insert_ignore(session, Delivery.__table__, rows,
                             returning=(Delivery.id, Delivery.user_id, Delivery.channel))
    counts = {"in_app": 0, "email": 0}
    created = []
    for delivery_id, uid, channel in inserted:
        counts[channel] += 1
        if channel == types.IN_APP:
            created.append({"job_id": job_id, "type": "notification.created", "user_id": uid, "created_at": now,
                            "data": {"user_id": uid, "notification_id": notification.id, "delivery_id": delivery_id,
                                     "type": notification.type, "priority": notification.priority,
                                     "title": notification.title}})
    record_events(session, created)
    return counts


def record_events(session: Session, rows: list[dict]) -> None:
    """``record_event`` for a whole chunk: one multi-row INSERT instead of an ORM flush per
    row; the events are queued on ``session.info["events"]`` like ``record_event`` does, so
    they are published on Redis (``cw:user:<id>``) after the commit."""
    if not rows:
        return
    ids = session.scalars(insert(JobEvent).returning(JobEvent.id, sort_by_parameter_order=True), rows).all()
    queued = session.info.setdefault("events", [])
    for event_id, row in zip(ids, rows):
        queued.append(JobEvent(id=event_id, **row))


def with_course_title(session: Session, data: dict) -> dict:
    """Events carry ids; templates want the course's title too."""
    if data.get("course_id") and "course_title" not in data:
        from domain.core.models import Course

        course = session.get(Course, data["course_id"])
        if course is not None:
            return {**data, "course_title": course.title}
    return data
