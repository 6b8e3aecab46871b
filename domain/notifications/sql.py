"""``INSERT ... ON CONFLICT DO NOTHING`` for PostgreSQL and SQLite (the two we run on)."""
from __future__ import annotations

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session


def insert_ignore(session: Session, table, rows: list[dict], returning=None) -> list:
    """Insert rows, skipping those that hit a unique key. Returns the ``returning`` columns
    of the rows actually inserted (so a rerun learns it added nothing)."""
    if not rows:
        return []
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(table).on_conflict_do_nothing()
    if returning is None:
        session.execute(stmt, rows)
        return []
    # executemany + RETURNING: SQLAlchemy batches it into multi-row INSERTs ("insertmanyvalues")
    return list(session.execute(stmt.returning(*returning), rows))
