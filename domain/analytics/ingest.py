"""Write a batch of learning events in bulk, at most once per ``event_id``.

PostgreSQL: COPY into a temporary table, then one ``INSERT ... SELECT ... ON CONFLICT DO
NOTHING`` (a redelivered batch adds nothing). SQLite: one multi-row ``INSERT OR IGNORE``.
Ingestion holds a shared advisory lock; the rollup takes it exclusively for an instant to
read a watermark below which no insert is still in flight (see ``rollup.safe_high_seq``).
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Iterable

from sqlalchemy import select, text
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from domain.analytics.events import local_day
from domain.analytics.models import LearningEvent
from domain.core.models import User

INGEST_LOCK = 7_310_001   # pg advisory lock key shared by ingestion (shared) and the rollup (exclusive)
COLUMNS = ("event_id", "type", "user_id", "course_id", "lesson_id", "exercise_id", "topic", "coupon_code",
           "seconds", "score", "occurred_at", "day", "local_day", "ingested_at")


def user_timezones(session: Session, user_ids: Iterable[str]) -> dict[str, str]:
    ids = sorted(set(user_ids))
    if session.bind.dialect.name == "postgresql":   # one array parameter, not a thousand binds
        return dict(session.execute(text("SELECT id, timezone FROM users WHERE id = ANY(:ids)"), {"ids": ids}).all())
    zones: dict[str, str] = {}
    for i in range(0, len(ids), 1000):
        zones.update(session.execute(select(User.id, User.timezone).where(User.id.in_(ids[i:i + 1000]))).all())
    return zones


def rows_for(events: list, zones: dict[str, str], now: datetime | None = None) -> list[tuple]:
    now = now or datetime.now(timezone.utc)
    rows = []
    for ev in events:
        at = ev.occurred_at.astimezone(timezone.utc)
        rows.append((ev.event_id, ev.type, ev.user_id, ev.course_id, ev.lesson_id, ev.exercise_id, ev.topic,
                     ev.coupon_code, ev.seconds, ev.score, at, at.date(), local_day(at, zones.get(ev.user_id)), now))
    return rows


def ingest(session: Session, events: list) -> dict:
    """Insert the batch; returns counts. Safe to run twice (unique ``event_id``)."""
    if not events:
        return {"received": 0, "inserted": 0, "duplicates": 0}
    rows = rows_for(events, user_timezones(session, (e.user_id for e in events)))
    if session.bind.dialect.name == "postgresql":
        inserted = _copy_insert(session, rows)
    else:
        stmt = (sqlite_insert(LearningEvent).on_conflict_do_nothing(index_elements=["event_id"])
                .returning(LearningEvent.seq))
        inserted = len(session.execute(stmt, [dict(zip(COLUMNS, r)) for r in rows]).all())
    return {"received": len(rows), "inserted": inserted, "duplicates": len(rows) - inserted}


def _copy_insert(session: Session, rows: list[tuple]) -> int:
    session.execute(text("SELECT pg_advisory_xact_lock_shared(:k)"), {"k": INGEST_LOCK})
    cols = ", ".join(COLUMNS)
    session.execute(text(
        f"CREATE TEMP TABLE IF NOT EXISTS analytics_ingest_tmp ON COMMIT DELETE ROWS "
        f"AS SELECT {cols} FROM learning_events WITH NO DATA"))
    raw = session.connection().connection.driver_connection
    with raw.cursor() as cur:
        with cur.copy(f"COPY analytics_ingest_tmp ({cols}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
    result = session.execute(text(
        f"INSERT INTO learning_events ({cols}) SELECT {cols} FROM analytics_ingest_tmp ORDER BY occurred_at "
        "ON CONFLICT (event_id) DO NOTHING"))
    session.execute(text("DELETE FROM analytics_ingest_tmp"))   # a second batch in this transaction starts empty
    return result.rowcount


def copy_raw(session: Session, rows: list[tuple]) -> None:
    """Plain COPY straight into the table (the benchmark's baseline and bulk loader)."""
    raw = session.connection().connection.driver_connection
    with raw.cursor() as cur:
        with cur.copy(f"COPY learning_events ({', '.join(COLUMNS)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
