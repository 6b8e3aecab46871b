"""Declarative base, column types that work on PostgreSQL and SQLite, and per-process engines."""
from __future__ import annotations

import os
import uuid
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Iterator

from sqlalchemy import JSON, DateTime, Enum, MetaData, create_engine, event
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

JSONType = JSON().with_variant(JSONB(), "postgresql")


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on both PostgreSQL and SQLite."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime(), dict: JSONType, list: JSONType}


def str_enum(cls, name: str) -> Enum:
    """A Python enum stored as a short string (no native PostgreSQL enum type to migrate)."""
    return Enum(cls, name=name, native_enum=False, length=32, validate_strings=True)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def new_id() -> str:
    return uuid.uuid4().hex


# Keyed by process, and never replaced (unlike ``PerProcess``): a forked child must not use its
# parent's pooled connections, nor let them be garbage-collected, since closing one there would
# end the parent's session on the server too.
_engines: dict[tuple[int, str], Engine] = {}
POOL_OPTIONS = {"pool_size": 10, "max_overflow": 20}   # set from celeryconfig (COURSEWORK_DB_POOL_SIZE...)


def get_engine(url: str) -> Engine:
    """One engine per (process, url): never shared across a fork."""
    key = (os.getpid(), url)
    engine = _engines.get(key)
    if engine is None:
        if url.startswith("sqlite"):
            engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

            @event.listens_for(engine, "connect")
            def _sqlite_pragmas(dbapi_conn, _record):  # pragma: no cover - trivial
                cur = dbapi_conn.cursor()
                cur.execute("PRAGMA journal_mode=WAL")
                cur.execute("PRAGMA busy_timeout=30000")
                cur.execute("PRAGMA foreign_keys=ON")
                cur.close()
        else:
            engine = create_engine(url, pool_pre_ping=True, **POOL_OPTIONS)
        _engines[key] = engine
    return engine


_factories: dict[tuple[int, str], sessionmaker[Session]] = {}


def session_factory(url: str) -> sessionmaker[Session]:
    """One sessionmaker per (process, url): building one makes a Session subclass and copies
    every event listener onto it, which costs more than the transaction it would serve."""
    key = (os.getpid(), url)
    factory = _factories.get(key)
    if factory is None:
        factory = _factories[key] = sessionmaker(get_engine(url), expire_on_commit=False)
    return factory


def unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` says the database could not be reached or dropped the connection (a
    restart, a failover, a cut link, an exhausted pool), as opposed to refusing the statement:
    worth trying again in a moment."""
    if isinstance(exc, (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.TimeoutError)):
        return True
    return isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated


@contextmanager
def unit_of_work(url: str) -> Iterator[Session]:
    """``with unit_of_work(url) as s:`` commits on success, rolls back on error."""
    with session_factory(url).begin() as session:
        yield session
