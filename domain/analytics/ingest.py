"""Write a batch of learning events in bulk, at most once per ``event_id``.

PostgreSQL: COPY straight into the table; when an ``event_id`` is already there (a resent or
redelivered batch) that COPY fails whole, and the batch goes through a temporary table and one
``INSERT ... SELECT ... ON CONFLICT DO NOTHING`` instead (adding only what is new). SQLite: one
multi-row ``INSERT OR IGNORE``.
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
    if session.bind.dialect.name == "postgresql":
        # one array parameter, each id looked up in the primary key (OFFSET 0 keeps the lateral
        # subquery a nested loop: a batch names few of the users, and a hash join would scan them all)
        return dict(session.execute(text(
            "SELECT u.id, u.timezone FROM unnest(CAST(:ids AS varchar[])) AS k(id), "
            "LATERAL (SELECT id, timezone FROM users WHERE users.id = k.id OFFSET 0) AS u"), {"ids": ids}).all())
    zones: dict[str, str] = {}
    for i in range(0, len(ids), 1000):
        zones.update(session.execute(select(User.id, User.timezone).where(User.id.in_(ids[i:i + 1000]))).all())
    return zones


MAX_REPORTED = 20     # rejected events listed by event_id in a job's result (all are counted)


def rows_for(events: list, zones: dict[str, str], now: datetime | None = None) -> tuple[list[tuple], list[dict]]:
    """The rows to write, and the events that cannot be written (with why): intake refuses such
    events, but a batch that meets one anyway keeps its good events."""
    now = now or datetime.now(timezone.utc)
    rows, rejected = [], []
    for i, ev in enumerate(events):
        try:
            at = ev.occurred_at.astimezone(timezone.utc)
            rows.append((ev.event_id, ev.type, ev.user_id, ev.course_id, ev.lesson_id, ev.exercise_id, ev.topic,
                         ev.coupon_code, ev.seconds, ev.score, at, at.date(), local_day(at, zones.get(ev.user_id)),
                         now))
        except (OverflowError, ValueError, TypeError, AttributeError) as exc:
            rejected.append({"index": i, "event_id": getattr(ev, "event_id", None),
                             "error": f"{type(exc).__name__}: {exc}"[:200]})
    return rows, rejected


def ingest(session: Session, events: list) -> dict:
    """Insert the batch; returns counts. Safe to run twice (unique ``event_id``)."""
    if not events:
        return {"received": 0, "inserted": 0, "duplicates": 0, "rejected": 0}
    rows, rejected = rows_for(events, user_timezones(session, (e.user_id for e in events)))
    inserted = 0
    if rows and session.bind.dialect.name == "postgresql":
        _begin_pg(session)
        inserted = _copy_insert(session, rows)
    elif rows:
        stmt = (sqlite_insert(LearningEvent).on_conflict_do_nothing(index_elements=["event_id"])
                .returning(LearningEvent.seq))
        inserted = len(session.execute(stmt, [dict(zip(COLUMNS, r)) for r in rows]).all())
    out = {"received": len(events), "inserted": inserted, "duplicates": len(rows) - inserted,
           "rejected": len(rejected)}
    if rejected:
        out["rejected_events"] = rejected[:MAX_REPORTED]
    return out


_CREATE_TMP = (f"CREATE TEMP TABLE IF NOT EXISTS analytics_ingest_tmp ON COMMIT DELETE ROWS "
               f"AS SELECT {', '.join(COLUMNS)} FROM learning_events WITH NO DATA")
# the rows are moved: a second batch in the same transaction starts from an empty table
_MOVE = (f"WITH batch AS (DELETE FROM analytics_ingest_tmp RETURNING *) "
         f"INSERT INTO learning_events ({', '.join(COLUMNS)}) SELECT {', '.join(COLUMNS)} FROM batch "
         f"ON CONFLICT (event_id) DO NOTHING")


def _begin_pg(session: Session) -> None:
    """One round trip: the shared ingest lock, an asynchronous commit, and a savepoint.

    The commit need not wait for its WAL flush: the job's ``succeeded`` commit comes after it
    and does wait, which flushes this one too. A crash in between loses both; the job is
    redelivered and the batch written again (once per ``event_id``): nothing lost, nothing twice.
    """
    raw = session.connection().connection.driver_connection
    with raw.cursor() as cur:   # no parameters: the simple protocol runs the three at once
        cur.execute(f"SET LOCAL synchronous_commit = off; SELECT pg_advisory_xact_lock_shared({INGEST_LOCK}); "
                    "SAVEPOINT analytics_ingest")


def _copy_insert(session: Session, rows: list[tuple]) -> int:
    """COPY straight into the table (the common case: every event is new). If an ``event_id``
    is already there (a resent or redelivered batch), the COPY fails as a whole: back to the
    savepoint, and the batch goes through a temp table and ``INSERT ... ON CONFLICT DO NOTHING``."""
    import psycopg

    rows = sorted(rows, key=lambda r: r[10])   # seq follows occurred_at within a batch
    raw = session.connection().connection.driver_connection
    with raw.cursor() as cur:
        try:
            with cur.copy(f"COPY learning_events ({', '.join(COLUMNS)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            return len(rows)
        except psycopg.errors.UniqueViolation:
            cur.execute("ROLLBACK TO SAVEPOINT analytics_ingest")
        cur.execute(_CREATE_TMP)
        with cur.copy(f"COPY analytics_ingest_tmp ({', '.join(COLUMNS)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        cur.execute(_MOVE)
        return cur.rowcount


def copy_raw(session: Session, rows: list[tuple]) -> None:
    """Plain COPY straight into the table (the benchmark's baseline and bulk loader)."""
    raw = session.connection().connection.driver_connection
    with raw.cursor() as cur:
        with cur.copy(f"COPY learning_events ({', '.join(COLUMNS)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
