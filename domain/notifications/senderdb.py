"""The sender's own database connection (autocommit): claims, send-time settlements and marks,
each one statement and its own transaction.

On PostgreSQL the statements go straight to the driver as prepared statements (less client CPU
than the same statements through SQLAlchemy, and less time between a 250 and its record), and the connection skips waiting for the WAL flush (``synchronous_commit off`` for this
connection only): a claim or a mark is visible at once and survives a killed worker; only a
crash of PostgreSQL itself could lose the latest ones, and those messages would then be sent
again (at-least-once). The setting is reset before the connection goes back to the pool.
Elsewhere (SQLite: the embedded demo) the same steps go through SQLAlchemy.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from psycopg.rows import namedtuple_row
from sqlalchemy import and_, bindparam, func, or_, select, text, update

from domain.core.models import User
from domain.notifications import types
from domain.notifications.models import PENDING, SENDING, SENT, Delivery, Notification, Preference, Suppression

TABLE = Delivery.__tablename__


@dataclass(frozen=True)
class Scope:
    """Which email deliveries one job is responsible for: one notification's, for one user or
    for the users in ``(after, until]``."""

    notification_id: str
    user_id: str | None = None
    after: str | None = None
    until: str | None = None

    def clauses(self) -> tuple:
        where = [Delivery.notification_id == self.notification_id, Delivery.channel == types.EMAIL]
        if self.user_id is not None:
            where.append(Delivery.user_id == self.user_id)
        if self.after is not None:
            where.append(Delivery.user_id > self.after)
        if self.until is not None:
            where.append(Delivery.user_id <= self.until)
        return tuple(where)

    @property
    def shape(self) -> tuple[bool, bool, bool]:
        return self.user_id is not None, self.after is not None, self.until is not None

    def params(self) -> dict:
        return {"notification": self.notification_id, "user": self.user_id, "after": self.after,
                "until": self.until}


@lru_cache(maxsize=8)
def _scope_sql(shape: tuple[bool, bool, bool]) -> str:
    user, after, until = shape
    sql = f"d.notification_id = %(notification)s AND d.channel = '{types.EMAIL}'"
    sql += " AND d.user_id = %(user)s" if user else ""
    sql += " AND d.user_id > %(after)s" if after else ""
    return sql + (" AND d.user_id <= %(until)s" if until else "")


@lru_cache(maxsize=8)
def claim_sql(shape: tuple[bool, bool, bool]) -> str:
    """Claim a batch and read what the send-time checks and the messages need, in one
    statement: the UPDATE is a CTE the joins start from (index lookups for the few claimed rows
    whatever the statistics say). ``others``: rows in scope still pending or sending outside
    this claim (held by a live sender, locked by a concurrent claim, or beyond the batch), as
    of the statement's snapshot; 0 means this batch is the last."""
    scope = _scope_sql(shape)
    return f"""
WITH pick AS MATERIALIZED (
  SELECT d.id FROM {TABLE} d
  WHERE {scope} AND ((d.status = '{PENDING}' AND (d.next_attempt_at IS NULL OR d.next_attempt_at <= %(now)s))
                     OR (d.status = '{SENDING}' AND d.claimed_at < %(stale)s))
  ORDER BY d.user_id LIMIT %(limit)s FOR UPDATE SKIP LOCKED),
claimed AS (
  UPDATE {TABLE} d SET status = '{SENDING}', claimed_by = %(owner)s, claimed_at = %(now)s, attempts = d.attempts + 1
  FROM pick WHERE d.id = pick.id
  RETURNING d.id, d.user_id, d.notification_id, d.attempts, d.last_error)
SELECT c.id, c.user_id, c.attempts, c.last_error, n.type, n.priority, n.title, n.body, n.link, n.data,
       u.name, u.email, p.mode AS stored_mode, s.email AS suppressed,
       (SELECT count(*) FROM {TABLE} d WHERE {scope} AND d.status IN ('{PENDING}', '{SENDING}')
          AND d.id NOT IN (SELECT id FROM pick)) AS others
FROM claimed c
JOIN {Notification.__tablename__} n ON n.id = c.notification_id
JOIN {User.__tablename__} u ON u.id = c.user_id
LEFT JOIN {Preference.__tablename__} p ON p.user_id = c.user_id AND p.type = n.type AND p.channel = '{types.EMAIL}'
LEFT JOIN {Suppression.__tablename__} s ON s.email = lower(u.email)
ORDER BY c.user_id"""


SENT_SQL = (f"UPDATE {TABLE} SET status = '{SENT}', last_error = NULL, claimed_by = NULL, provider = %s, "
            "provider_message_id = %s, sent_at = %s WHERE id = %s AND claimed_by = %s")
DONE_SQL = f"UPDATE {TABLE} SET status = %s, last_error = %s, claimed_by = NULL WHERE id = %s AND claimed_by = %s"
DEFER_SQL = (f"UPDATE {TABLE} SET status = '{PENDING}', last_error = %s, claimed_by = NULL, next_attempt_at = %s "
             "WHERE id = %s AND claimed_by = %s")
SETTLE_SQL = (f"UPDATE {TABLE} SET status = %s, last_error = %s, claimed_by = NULL "
              "WHERE id = ANY(%s) AND claimed_by = %s")

# the same steps through SQLAlchemy (SQLite)
_mine = (Delivery.id == bindparam("delivery"), Delivery.claimed_by == bindparam("owner"))
MARK_SENT = update(Delivery).where(*_mine).values(status=SENT, last_error=None, claimed_by=None,
                                                  provider=bindparam("provider"),
                                                  provider_message_id=bindparam("message_id"), sent_at=bindparam("at"))
MARK_DEFERRED = update(Delivery).where(*_mine).values(status=PENDING, last_error=bindparam("error"), claimed_by=None,
                                                      next_attempt_at=bindparam("due"))
MARK_DONE = update(Delivery).where(*_mine).values(status=bindparam("status"), last_error=bindparam("error"),
                                                  claimed_by=None)


def _with_context():
    pref = Preference.__table__.alias("pref")
    return (select(Delivery.id, Delivery.user_id, Delivery.attempts, Delivery.last_error, Notification.type,
                   Notification.priority, Notification.title, Notification.body, Notification.link,
                   Notification.data, User.name, User.email, pref.c.mode.label("stored_mode"),
                   Suppression.email.label("suppressed"))
            .join(Notification, Notification.id == Delivery.notification_id)
            .join(User, User.id == Delivery.user_id)
            .outerjoin(pref, and_(pref.c.user_id == Delivery.user_id, pref.c.type == Notification.type,
                                  pref.c.channel == types.EMAIL))
            .outerjoin(Suppression, Suppression.email == func.lower(User.email)))


class SenderConnection:
    def __init__(self, engine):
        self.engine = engine
        self.conn = None
        self.cursor = None          # PostgreSQL: the psycopg cursor
        self.pg = engine.dialect.name == "postgresql"

    def _open(self) -> None:
        self.conn = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        if self.pg:
            self.conn.execute(text("SET synchronous_commit TO OFF"))
            self.cursor = self.conn.connection.driver_connection.cursor(row_factory=namedtuple_row)

    def claim(self, scope: Scope, owner: str, now, stale, limit: int) -> tuple[list, int | None]:
        """Claim up to ``limit`` rows of ``scope`` (``pending``, or ``sending`` claimed before
        ``stale``): the rows with their context, and ``others`` (see ``claim_sql``; None when
        not known)."""
        if self.conn is None:
            self._open()
        if self.pg:
            self.cursor.execute(claim_sql(scope.shape), {**scope.params(), "stale": stale, "limit": limit,
                                                         "owner": owner, "now": now}, prepare=True)
            rows = self.cursor.fetchall()
            return rows, (rows[0].others if rows else None)
        where = scope.clauses()
        pick = (select(Delivery.id)
                .where(*where, or_(and_(Delivery.status == PENDING,
                                        or_(Delivery.next_attempt_at.is_(None), Delivery.next_attempt_at <= now)),
                                   and_(Delivery.status == SENDING, Delivery.claimed_at < stale)))
                .order_by(Delivery.user_id).limit(limit))
        ids = list(self.conn.scalars(
            update(Delivery).where(Delivery.id.in_(pick.scalar_subquery()))
            .values(status=SENDING, claimed_by=owner, claimed_at=now, attempts=Delivery.attempts + 1)
            .returning(Delivery.id)))
        rows = self.conn.execute(_with_context().where(Delivery.id.in_(ids)).order_by(Delivery.user_id)).all() \
            if ids else []
        return rows, None

    def settle(self, ids: list[str], owner: str, status: str, error: str | None) -> None:
        """Claimed rows the send-time checks decided on (skipped, digest, failed)."""
        if self.pg:
            self.cursor.execute(SETTLE_SQL, (status, error, ids, owner), prepare=True)
        else:
            self.conn.execute(update(Delivery).where(Delivery.id.in_(ids), Delivery.claimed_by == owner)
                              .values(status=status, last_error=error, claimed_by=None))

    def sent(self, delivery_id: str, owner: str, provider: str, message_id: str | None, at) -> int:
        if self.conn is None:
            self._open()
        if self.pg:
            self.cursor.execute(SENT_SQL, (provider, message_id, at, delivery_id, owner), prepare=True)
            return self.cursor.rowcount
        return self.conn.execute(MARK_SENT, {"delivery": delivery_id, "owner": owner, "provider": provider,
                                             "message_id": message_id, "at": at}).rowcount

    def done(self, delivery_id: str, owner: str, status: str, error: str | None) -> int:
        if self.conn is None:
            self._open()
        if self.pg:
            self.cursor.execute(DONE_SQL, (status, error, delivery_id, owner), prepare=True)
            return self.cursor.rowcount
        return self.conn.execute(MARK_DONE, {"delivery": delivery_id, "owner": owner, "status": status,
                                             "error": error}).rowcount

    def defer(self, delivery_id: str, owner: str, error: str, due) -> int:
        """A claimed row back to ``pending``, not to be claimed before ``due``."""
        if self.conn is None:
            self._open()
        if self.pg:
            self.cursor.execute(DEFER_SQL, (error, due, delivery_id, owner), prepare=True)
            return self.cursor.rowcount
        return self.conn.execute(MARK_DEFERRED, {"delivery": delivery_id, "owner": owner, "error": error,
                                                 "due": due}).rowcount

    def close(self) -> None:
        if self.conn is not None:
            try:
                if self.cursor is not None:
                    self.cursor.close()
                    self.conn.execute(text("RESET synchronous_commit"))
            finally:
                self.conn.close()
                self.conn, self.cursor = None, None
