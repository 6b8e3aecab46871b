"""SQL helpers for PostgreSQL and SQLite (the two we run on): ``INSERT ... ON CONFLICT DO
NOTHING`` and a fresh row id computed by the database (for ``INSERT ... SELECT``)."""
from __future__ import annotations

from sqlalchemy import String
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.functions import FunctionElement


def insert_for(session: Session, table):
    """The dialect's INSERT (it has ``on_conflict_do_nothing``)."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    return dialect.insert(table)


def insert_ignore(session: Session, table, rows: list[dict], returning=None) -> list:
    """Insert rows, skipping those that hit a unique key. Returns the ``returning`` columns
    of the rows actually inserted (so a rerun learns it added nothing)."""
    if not rows:
        return []
    stmt = insert_for(session, table).on_conflict_do_nothing()
    if returning is None:
        session.execute(stmt, rows)
        return []
    # executemany + RETURNING: SQLAlchemy batches it into multi-row INSERTs ("insertmanyvalues")
    return list(session.execute(stmt.returning(*returning), rows))


class new_row_id(FunctionElement):
    """A random 32-hex-digit id, like ``domain.db.new_id()`` (uuid4 hex), made in SQL."""

    type = String(32)
    inherit_cache = True
    name = "new_row_id"


@compiles(new_row_id, "postgresql")
def _pg_new_row_id(element, compiler, **kw):
    return "replace(gen_random_uuid()::text, '-', '')"        # built in since PostgreSQL 13


@compiles(new_row_id, "sqlite")
def _sqlite_new_row_id(element, compiler, **kw):
    return "lower(hex(randomblob(16)))"
