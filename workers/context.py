"""What a running job holds: its ``JobContext`` (the one way a task gets its dependencies) and
the process's ``LeaseKeeper`` (one heartbeat thread renewing the lease of every run).
"""
from __future__ import annotations

import logging
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import redis
from sqlalchemy.engine import Engine

from celeryconfig import settings
from domain.db import get_engine, unit_of_work
from domain.jobs import enqueueing, leases
from domain.jobs.errors import JobCancelled
from domain.storage import Storage, get_storage
from workers.per_process import PerProcess

log = logging.getLogger(__name__)


@dataclass
class JobContext:
    """Everything a task may use while its job runs; the one way a family gets its dependencies.

    A task takes what it needs from here (``uow``, ``db_engine``, ``storage``, ``redis``,
    ``settings``, ``emit``, ``enqueue``) and hands domain code explicit collaborators (a
    unit-of-work factory, a storage, an engine), never a URL. It is also the job's
    ``domain.jobs.control.RunControl``: domain code that runs long takes it as ``control`` and
    calls ``progress(percent, message)`` and ``check_cancelled()`` (raises ``JobCancelled`` once
    the job was cancelled or this worker lost its lease; the ``LeaseKeeper`` sets the events).
    """

    job_id: str
    kind: str
    owner: str
    attempt: int
    max_attempts: int
    caller: str
    db_url: str                 # the context's own: a task hands on uow / db_engine, never the URL
    cancel_event: threading.Event = field(default_factory=threading.Event)
    lost_event: threading.Event = field(default_factory=threading.Event)
    on_progress: Callable[[int, str], None] | None = None    # Flower's view (workers.outcomes)
    _last_progress: float = 0.0

    # --- run control (domain.jobs.control.RunControl) ----------------------------------
    def check_cancelled(self) -> None:
        if self.cancel_event.is_set():
            raise JobCancelled("the job was cancelled")
        if self.lost_event.is_set():
            raise JobCancelled("this worker lost the job's lease")

    def progress(self, percent: float, message: str = "", *, force: bool = False) -> None:
        """Report progress (throttled to ~4 writes a second)."""
        now = time.monotonic()
        if not force and percent < 100 and now - self._last_progress < 0.25:
            return
        self._last_progress = now
        with unit_of_work(self.db_url) as session:
            leases.set_progress(session, self.job_id, self.owner, percent, message)
        if self.on_progress is not None:
            self.on_progress(max(0, min(100, int(percent))), message[:200])

    # --- unit of work, events, sub-jobs ----------------------------------------------
    @contextmanager
    def uow(self) -> Iterator[Any]:
        with unit_of_work(self.db_url) as session:
            yield session

    def emit(self, name: str, data: dict, user_id: str | None = None, session=None) -> None:
        if session is None:
            with self.uow() as session:
                return self.emit(name, data, user_id, session=session)
        enqueueing.emit(session, self.job_id, name, data, user_id=user_id)

    def enqueue(self, kind: str, payload: dict, idempotency_key: str | None = None, session=None):
        """Start a sub-job (fan-out). Give it a deterministic key so a rerun adds nothing."""
        if session is None:
            with self.uow() as session:
                return self.enqueue(kind, payload, idempotency_key, session=session)
        job, _ = enqueueing.enqueue(session, kind, payload, caller=self.caller, idempotency_key=idempotency_key,
                                    parent_id=self.job_id, check_data=False)
        return job.id

    @property
    def db_engine(self) -> Engine:
        """The process's SQLAlchemy engine on the job's database (for code that keeps its own
        connection, such as the email sender's autocommit one)."""
        return get_engine(self.db_url)

    @property
    def storage(self) -> Storage:
        return get_storage()

    @property
    def redis(self) -> redis.Redis:
        from workers.events import client

        return client()

    @property
    def settings(self):
        return settings


class LeaseKeeper(threading.Thread):
    """The process's heartbeat: every ``heartbeat_seconds`` it renews the lease of every job the
    process is running (one statement per database, whatever the pool size) and tells each run
    whether it was cancelled or lost its lease. One thread per process instead of one per run."""

    def __init__(self):
        super().__init__(name="lease-keeper", daemon=True)
        self.runs: dict[str, JobContext] = {}          # by owner: one entry per run
        self.lock = threading.Lock()

    def add(self, ctx: JobContext) -> None:
        with self.lock:
            self.runs[ctx.owner] = ctx

    def remove(self, ctx: JobContext) -> None:
        with self.lock:
            self.runs.pop(ctx.owner, None)

    def run(self) -> None:
        while True:
            time.sleep(settings.heartbeat_seconds)
            try:
                self.beat()
            except Exception:   # never let the keeper die: every lease of the process would lapse
                log.exception("lease keeper beat failed")

    def beat(self) -> None:
        with self.lock:
            runs = list(self.runs.values())
        by_db: dict[str, list[JobContext]] = {}
        for ctx in runs:
            by_db.setdefault(ctx.db_url, []).append(ctx)
        for db_url, ctxs in by_db.items():
            try:
                with unit_of_work(db_url) as session:
                    ours, cancel = leases.renew_leases(session, [(c.job_id, c.owner) for c in ctxs],
                                                       settings.lease_seconds)
            except Exception:  # the DB may blip; the lease has slack for a missed beat
                log.exception("lease renewal failed for %d job(s)", len(ctxs))
                continue
            for ctx in ctxs:
                if ctx.job_id in cancel:
                    ctx.cancel_event.set()
                if (ctx.job_id, ctx.owner) not in ours:
                    ctx.lost_event.set()


def _start_keeper() -> LeaseKeeper:
    keeper = LeaseKeeper()
    keeper.start()
    return keeper


lease_keeper = PerProcess(_start_keeper)   # this process's keeper
