"""Temporary key tables for an incremental rollup: the (course, day), (learner, local day) and
(topic, learner) keys touched by the new events, filled set-based from the ``seq`` range and
joined against the events (an index nested loop), instead of long IN lists."""
from __future__ import annotations

from sqlalchemy import Column, Date, MetaData, String, Table, and_, delete, insert, select, text
from sqlalchemy.orm import Session

from domain.analytics.models import LearningEvent

_md = MetaData()
COURSE = Table("tmp_rollup_course_keys", _md, Column("course_id", String(32)), Column("day", Date),
               prefixes=["TEMPORARY"])
LEARNER = Table("tmp_rollup_learner_keys", _md, Column("user_id", String(32)), Column("local_day", Date),
                prefixes=["TEMPORARY"])
TOPIC = Table("tmp_rollup_topic_keys", _md, Column("topic", String(64)), Column("user_id", String(32)),
              prefixes=["TEMPORARY"])
E = LearningEvent.__table__
_DDL = {COURSE: "course_id varchar(32), day date", LEARNER: "user_id varchar(32), local_day date",
        TOPIC: "topic varchar(64), user_id varchar(32)"}


def _create(s: Session, table: Table) -> None:
    if s.bind.dialect.name == "postgresql":
        s.execute(text(f"CREATE TEMP TABLE IF NOT EXISTS {table.name} ({_DDL[table]}) ON COMMIT DROP"))
    else:
        s.execute(text(f"CREATE TEMP TABLE IF NOT EXISTS {table.name} ({_DDL[table]})"))
    s.execute(delete(table))


def fill(s: Session, low: int, high: int) -> None:
    """Create and fill the three key tables from the events with low < seq <= high."""
    new = and_(E.c.seq > low, E.c.seq <= high)
    for table, cols, extra in ((COURSE, (E.c.course_id, E.c.day), E.c.course_id.is_not(None)),
                               (LEARNER, (E.c.user_id, E.c.local_day), None),
                               (TOPIC, (E.c.topic, E.c.user_id), E.c.type == "submission_evaluated")):
        _create(s, table)
        sel = select(*cols).where(new)
        if extra is not None:
            sel = sel.where(extra)
        s.execute(insert(table).from_select([c.name for c in table.c], sel.distinct()))
        if s.bind.dialect.name == "postgresql":
            s.execute(text(f"ANALYZE {table.name}"))


def on(keys: Table, target: Table):
    """The join condition between a key table and a table having the same key columns."""
    return and_(*(target.c[c.name] == c for c in keys.c))


def delete_matching(s: Session, target: Table, keys: Table, returning: tuple = ()) -> list:
    """Delete the rows whose key is in ``keys``; returns the ``returning`` columns of those rows."""
    if s.bind.dialect.name == "postgresql":   # DELETE ... USING: a join, not a scan
        stmt = delete(target).where(on(keys, target))
    else:
        from sqlalchemy import tuple_

        stmt = delete(target).where(tuple_(*(target.c[c.name] for c in keys.c)).in_(select(*keys.c)))
    if returning:
        return s.execute(stmt.returning(*returning)).all()
    s.execute(stmt)
    return []
