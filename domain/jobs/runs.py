"""The two transitions every run makes, claim and succeed, on the worker thread's own connection.

On PostgreSQL each transition is one prepared statement that is its own transaction (the
update and its event row in one CTE, autocommit): one round trip, where a Session spends four
(pool pre-ping, BEGIN, the statement, COMMIT) and builds an ORM transaction around them. The
connection belongs to one worker thread of one process and lives outside the engine's pool, so
a thread pool of any size cannot starve the pool the rest of the job uses. A connection found
broken is replaced at once (the pool's pre-ping did that before); when a new one cannot be made
the error is raised as SQLAlchemy's ``OperationalError``, which callers already treat as "the
database is away". Durability is the
server's default (the commit waits for the WAL flush), as for every other transition.

Elsewhere (SQLite, the embedded demo) the same transitions go through a Session
(``leases.claim`` / ``leases.succeed``); the suite runs both.

A transition made here returns the events it recorded, for the caller to publish; one made
through a Session publishes its own after the commit (``workers.events.install``), so it
returns none.
"""
from __future__ import annotations

import json
import os
import threading
from datetime import timedelta
from typing import Any

import psycopg
from psycopg.rows import namedtuple_row
from sqlalchemy import make_url
from sqlalchemy.exc import OperationalError

from domain.db import unit_of_work, utcnow
from domain.jobs import leases, states
from domain.jobs.models import JobEvent
from domain.jobs.recording import inserted_event, transition_data
from domain.jobs.transitions import not_claimed

CLAIM_SQL = f"""
WITH c AS (
  UPDATE jobs SET state = '{states.RUNNING}', lease_owner = %(owner)s, lease_expires_at = %(lease)s,
                  attempts = attempts + 1, started_at = %(now)s, updated_at = %(now)s
  WHERE id = %(id)s AND NOT cancel_requested
    AND (state IN ({", ".join(f"'{s}'" for s in sorted(states.CLAIMABLE))})
         OR (state = '{states.RUNNING}' AND lease_expires_at < %(now)s AND attempts < max_attempts))
  RETURNING id, kind, attempts, max_attempts, caller, payload, created_at, run_at),
e AS (INSERT INTO job_events (job_id, type, data, created_at)
      SELECT id, 'job.{states.RUNNING}', jsonb_build_object('state', '{states.RUNNING}', 'attempts', attempts),
             %(now)s
      FROM c RETURNING id)
SELECT c.*, (SELECT id FROM e) AS event_id FROM c"""

SUCCEED_SQL = f"""
WITH u AS (
  UPDATE jobs SET state = '{states.SUCCEEDED}', result = %(result)s::jsonb, progress = 100, error = NULL,
                  finished_at = %(now)s, updated_at = %(now)s, lease_owner = NULL, lease_expires_at = NULL
  WHERE id = %(id)s AND lease_owner = %(owner)s AND state = '{states.RUNNING}'
  RETURNING attempts),
e AS (INSERT INTO job_events (job_id, type, data, created_at)
      SELECT %(id)s, 'job.{states.SUCCEEDED}',
             jsonb_build_object('state', '{states.SUCCEEDED}', 'attempts', attempts, 'result', %(result)s::jsonb),
             %(now)s
      FROM u RETURNING id)
SELECT (SELECT attempts FROM u) AS attempts, (SELECT id FROM e) AS event_id"""


class RunConnection:
    """One worker thread's autocommit connection to PostgreSQL (opened on first use)."""

    def __init__(self, url: str):
        self.conninfo = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        self.conn: psycopg.Connection | None = None

    def one(self, sql: str, params: dict) -> Any:
        """Run one statement (its own transaction) and return its first row. A connection that
        broke while idle (server restarted, idle timeout: a long job's success comes minutes after
        its claim) is replaced and the statement sent once more; a failure on a new connection is
        raised."""
        while True:
            fresh = self.conn is None or self.conn.closed
            try:
                if fresh:
                    self.conn = psycopg.connect(self.conninfo, autocommit=True, connect_timeout=10,
                                                row_factory=namedtuple_row)
                with self.conn.cursor() as cur:
                    cur.execute(sql, params, prepare=True)
                    return cur.fetchone()
            except psycopg.OperationalError as exc:     # server gone or connection broken
                self.close()
                if fresh:
                    raise OperationalError(sql, params, exc) from exc

    def close(self) -> None:
        if self.conn is not None:
            try:
                self.conn.close()
            finally:
                self.conn = None


_local = threading.local()


def _connection(url: str) -> RunConnection | None:
    """This thread's connection for ``url`` in this process; None where the Session path runs."""
    if not url.startswith("postgresql"):
        return None
    key = (os.getpid(), url)            # a forked child must not use its parent's socket
    conns = getattr(_local, "conns", None)
    if conns is None:
        conns = _local.conns = {}
    conn = conns.get(key)
    if conn is None:
        conn = conns[key] = RunConnection(url)
    return conn


def claim(url: str, job_id: str, owner: str, lease_seconds: int) -> tuple[leases.Claimed | None, str, list]:
    """Take the job's lease for this run: (job or None, reason, events to publish). When the
    job cannot be taken, ``not_claimed`` says why (and makes the transition that decides, such
    as a lost job's dead letter)."""
    conn = _connection(url)
    now = utcnow()
    if conn is None:
        with unit_of_work(url) as session:
            job = leases.claim(session, job_id, owner, lease_seconds)
            if job is None:
                return (*not_claimed(session, job_id, now), [])
        return job, "claimed", []
    row = conn.one(CLAIM_SQL, {"id": job_id, "owner": owner, "now": now,
                               "lease": now + timedelta(seconds=lease_seconds)})
    if row is None:
        with unit_of_work(url) as session:
            return (*not_claimed(session, job_id, now), [])
    event = _event(row.event_id, job_id, states.RUNNING, row.attempts, {}, now)
    job = leases.Claimed(row.id, row.kind, row.attempts, row.max_attempts, row.caller, row.payload,
                         row.created_at, row.run_at)
    return job, "claimed", [event]


def succeed(url: str, job_id: str, owner: str, result: dict | None) -> tuple[bool, list]:
    """Record success if this run still holds the lease: (recorded, events to publish)."""
    conn = _connection(url)
    if conn is None:
        with unit_of_work(url) as session:
            return leases.succeed(session, job_id, owner, result), []
    now = utcnow()
    row = conn.one(SUCCEED_SQL, {"id": job_id, "owner": owner, "now": now, "result": json.dumps(result or {})})
    if row.attempts is None:
        return False, []
    return True, [_event(row.event_id, job_id, states.SUCCEEDED, row.attempts, {"result": result or {}}, now)]


def _event(event_id: int, job_id: str, state: str, attempts: int, extra: dict, at) -> JobEvent:
    return inserted_event(event_id, job_id, f"job.{state}", transition_data(state, attempts, **extra), at)
