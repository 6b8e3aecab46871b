"""Create notifications and their delivery rows, idempotently.

A notification is unique by ``dedupe_key``; a delivery by (notification, recipient, channel).
Both are inserted with ON CONFLICT DO NOTHING, so a rerun adds nothing and announces nothing
twice: the ``notification.created`` event is recorded only for in-app rows that were not there yet.
"""
from __future__ import annotations

from datetime import timedelta

import json

from sqlalchemy import Select, Text, case, cast, func, insert, literal, null, select
from sqlalchemy.orm import Session

from domain.db import new_id, utcnow
from domain.core.models import User
from domain.jobs.models import JobEvent
from domain.notifications import render, types
from domain.notifications.models import DIGEST, PENDING, SENT, Delivery, Notification, Preference
from domain.notifications.sql import insert_for, insert_ignore, new_row_id


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


def add_deliveries(session: Session, notification: Notification, recipients: Select | list[str],
                   job_id: str | None = None) -> dict[str, int]:
    """Delivery rows for these recipients per their preferences; returns counts of new rows.

    ``recipients`` is a list of user ids or a SELECT of user ids (a page of a course's
    learners). Set-based: one ``INSERT ... SELECT ... ON CONFLICT DO NOTHING RETURNING`` per
    channel, the stored preference looked up per recipient on its unique key, so no id list
    travels to Python and back; rows that exist already (a rerun, an overlapping page) are
    skipped by the unique key and are not returned, so ``notification.created`` is recorded
    only for in-app rows new in this call."""
    if isinstance(recipients, (list, tuple)):
        if not recipients:
            return {"in_app": 0, "email": 0}
        recipients = select(User.id).where(User.id.in_(list(recipients)))
    who = recipients.subquery("who")
    now = utcnow()
    in_app = _insert_channel(session, notification, who, types.IN_APP, now)
    if session.get_bind().dialect.name == "postgresql":
        new_in_app = _insert_with_events(session, notification, in_app, job_id, now)
    else:
        rows = sorted(session.execute(in_app).all(), key=lambda r: r[1])
        new_in_app = len(rows)
        record_events(session, job_id, now, [_payload(notification, uid, delivery_id) for delivery_id, uid in rows])
    emails = len(session.execute(_insert_channel(session, notification, who, types.EMAIL, now)).all())
    return {"in_app": new_in_app, "email": emails}


def _payload(note: Notification, user_id: str, delivery_id: str) -> dict:
    return {"user_id": user_id, "notification_id": note.id, "delivery_id": delivery_id, "type": note.type,
            "priority": note.priority, "title": note.title}


def _insert_with_events(session: Session, note: Notification, in_app, job_id: str | None, now) -> int:
    """PostgreSQL: the in-app rows and their ``notification.created`` events in one statement
    (``WITH new AS (INSERT ... RETURNING) INSERT INTO job_events SELECT ... FROM new
    RETURNING``). The statement also returns each event as the JSON text that goes on Redis
    (``JobEvent.to_dict()``'s shape, built by PostgreSQL), queued as ``record_events`` does."""
    new = in_app.cte("new_in_app")
    events = JobEvent.__table__
    data = func.jsonb_build_object("user_id", new.c.user_id, "notification_id", note.id, "delivery_id", new.c.id,
                                   "type", note.type, "priority", note.priority, "title", note.title)
    wire = func.json_build_object("id", events.c.id, "job_id", events.c.job_id, "user_id", events.c.user_id,
                                  "type", events.c.type, "data", events.c.data, "created_at", now.isoformat())
    stmt = (insert(events).from_select(
        ["job_id", "type", "user_id", "data", "created_at"],
        select(literal(job_id, events.c.job_id.type), literal(CREATED), new.c.user_id, data,
               literal(now, events.c.created_at.type)).select_from(new).order_by(new.c.user_id))
        .returning(events.c.user_id, cast(wire, Text)))
    queued = session.execute(stmt).all()
    session.info.setdefault(USER_EVENTS, []).extend(queued)
    return len(queued)


def _insert_channel(session: Session, note: Notification, who, channel: str, now):
    """``INSERT INTO notification_deliveries SELECT <one row per recipient whose effective mode
    is not off> ON CONFLICT DO NOTHING RETURNING id, user_id`` (a stored preference wins over
    the type's default; urgent ones are always immediate, as ``preferences.effective``)."""
    uid = who.c[0]
    keep = uid.is_not(None)                   # (a WHERE also keeps SQLite's upsert parser happy)
    mode = literal(types.IMMEDIATE)
    if note.priority != types.URGENT and types.get(note.type).priority != types.URGENT:
        # a correlated lookup on the preference's unique key, one index probe per recipient
        # (a join let the planner read the whole preferences table for every chunk)
        stored = (select(Preference.mode).where(Preference.user_id == uid, Preference.type == note.type,
                                                Preference.channel == channel).scalar_subquery())
        mode = func.coalesce(stored, types.get(note.type).default(channel))
        keep = mode != types.OFF
    stamp = Delivery.__table__.c.created_at.type
    if channel == types.IN_APP:
        status, sent_at, expires_at = literal(SENT), literal(now, stamp), literal(note.expires_at, stamp)
    else:
        status, sent_at, expires_at = case((mode == types.DIGEST, DIGEST), else_=PENDING), null(), null()
    rows = select(new_row_id(), literal(note.id), uid, literal(channel), status, literal(0), sent_at, expires_at,
                  literal(now, stamp)).select_from(who).where(keep)
    cols = ["id", "notification_id", "user_id", "channel", "status", "attempts", "sent_at", "expires_at", "created_at"]
    table = Delivery.__table__
    return (insert_for(session, table).from_select(cols, rows).on_conflict_do_nothing()
            .returning(table.c.id, table.c.user_id))


USER_EVENTS = "notification_events"
CREATED = "notification.created"


def record_events(session: Session, job_id: str | None, at, payloads: list[dict]) -> None:
    """``notification.created`` for a whole chunk, stored in ``job_events`` (one multi-row
    INSERT ... RETURNING id) and queued on ``session.info[USER_EVENTS]`` as ``(user_id, JSON
    text)`` pairs (the event in ``JobEvent.to_dict()``'s shape): the task publishes them after
    the commit on each learner's channel ``cw:user:<id>`` only. (The generic ``record_event`` also
    publishes every event on ``cw:events`` and the job's channel: three messages per learner.)"""
    if not payloads:
        return
    kind = CREATED
    table = JobEvent.__table__
    ids = session.execute(insert(table).returning(table.c.id, sort_by_parameter_order=True),
                          [{"job_id": job_id, "type": kind, "user_id": p["user_id"], "data": p, "created_at": at}
                           for p in payloads]).scalars().all()
    when = at.isoformat()
    session.info.setdefault(USER_EVENTS, []).extend(
        (p["user_id"], json.dumps({"id": event_id, "job_id": job_id, "user_id": p["user_id"], "type": kind,
                                   "data": p, "created_at": when}))
        for event_id, p in zip(ids, payloads))


def with_course_title(session: Session, data: dict) -> dict:
    """Events carry ids; templates want the course's title too."""
    if data.get("course_id") and "course_title" not in data:
        from domain.core.models import Course

        course = session.get(Course, data["course_id"])
        if course is not None:
            return {**data, "course_title": course.title}
    return data
