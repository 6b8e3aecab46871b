"""The outbox relay and the stuck-job reaper.

Whoever writes a job writes its outbox row in the same transaction; right after the commit
the row is published (``publish_committed``, hooked on every Session by ``workers.events``)
and marked published a moment later, in batches, off the request path (``PublishedMarks``).
Whatever could not be published (Redis down), is not due yet (``run_at``) or was published
but never marked (the process died) is published by this relay: a loop in intake (a thread),
the ``coursework relay`` command and a beat entry all call ``relay_once``; ``FOR UPDATE SKIP
LOCKED`` keeps concurrent relays from colliding. A message published twice is harmless: the
job's lease lets one delivery run it and the other skip.
"""
from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from contextlib import contextmanager
from datetime import timezone
from typing import Iterator

from sqlalchemy import select, update

from celeryconfig import settings
from domain.db import unit_of_work, utcnow
from domain.jobs import service, states
from domain.jobs.labels import task_argsrepr
from domain.jobs.models import Job, Outbox

log = logging.getLogger(__name__)


def send(kind_name: str, job_id: str, producer=None, payload: dict | None = None) -> None:
    """Publish one job's message: its kind's task, on its kind's queue, no broker retries.
    Flower shows its arguments as ``job=<id> kind=<kind>`` and a label from the payload."""
    from workers.app import app

    kind = service.job_kind(kind_name)
    app.send_task(kind.task, args=[job_id], queue=kind.queue, retry=False, producer=producer,
                  argsrepr=task_argsrepr(job_id, kind_name, payload), kwargsrepr="{}")


@contextmanager
def batched_producer() -> Iterator:
    """A producer whose Redis commands are pipelined until the block ends (kombu's
    ``Producer.batch``): one round trip for a whole commit's messages."""
    from workers.app import app

    with app.producer_or_acquire() as producer, producer.batch(max_size=1000):
        yield producer


def publish_rows(session, rows: list[Outbox]) -> tuple[int, str | None]:
    sent = 0
    for row in rows:
        job = session.get(Job, row.job_id)
        if job is None or job.state in states.TERMINAL:
            row.published_at = utcnow()      # nothing to run any more
            continue
        try:
            send(job.kind, job.id, payload=job.payload)
        except Exception as exc:  # broker unreachable: keep the row, try again later
            row.publish_attempts += 1
            row.last_error = f"{type(exc).__name__}: {exc}"[:1000]
            return sent, row.last_error
        row.published_at = utcnow()
        sent += 1
    return sent, None


class PublishedMarks:
    """Outbox ids published right after their commit, marked ``published_at`` in one UPDATE per
    engine every ``interval`` seconds (well inside the relay's grace period, so the relay does
    not publish them again). One per process: the thread is (re)started lazily after a fork."""

    def __init__(self, interval: float = 0.2):
        self.interval = interval
        self.lock = threading.Lock()
        self.pending: dict = {}          # engine → [outbox ids]
        self.pid: int | None = None

    def add(self, engine, ids: list[int]) -> None:
        with self.lock:
            if self.pid != os.getpid():  # first use in this process (or after a fork)
                self.pid, self.pending = os.getpid(), {}
                threading.Thread(target=self._run, name="outbox-marks", daemon=True).start()
            self.pending.setdefault(engine, []).extend(ids)

    def _run(self) -> None:
        while True:
            time.sleep(self.interval)
            self.flush()

    def flush(self) -> None:
        with self.lock:
            batches, self.pending = self.pending, {}
        for engine, ids in batches.items():
            try:
                with engine.begin() as conn:
                    conn.execute(update(Outbox).where(Outbox.id.in_(ids), Outbox.published_at.is_(None))
                                 .values(published_at=utcnow()))
            except Exception as exc:  # the relay will publish these again: harmless
                log.warning("could not mark %d outbox rows published: %s", len(ids), exc)


marks = PublishedMarks()
atexit.register(marks.flush)


def publish_committed(session, rows: list[tuple]) -> int:
    """After a commit: publish the outbox rows it wrote that are due now, given as
    ``(outbox id, job id, available_at, kind name, payload)``, in one pipelined batch. On a broker error
    they are left to the relay. Returns how many were sent."""
    now = utcnow()
    due = [(outbox_id, job_id, kind_name, payload) for outbox_id, job_id, available_at, kind_name, payload in rows
           if available_at.replace(tzinfo=available_at.tzinfo or timezone.utc) <= now]   # else: run_at, the relay's
    if not due:
        return 0
    try:
        with batched_producer() as producer:
            for _, job_id, kind_name, payload in due:
                send(kind_name, job_id, producer, payload)
    except Exception as exc:   # broker away (or anything else): the relay publishes them
        log.warning("publish of %d job(s) deferred to the relay: %s", len(due), exc)
        return 0
    marks.add(session.get_bind(), [outbox_id for outbox_id, *_ in due])
    return len(due)


def relay_once(url: str | None = None, limit: int = 200) -> dict:
    url = url or settings.database_url
    with unit_of_work(url) as s:
        reaped = service.reap_expired(s)
        stale = service.requeue_stale_retrying(s, settings.retry_backoff_max + settings.lease_seconds)
    with unit_of_work(url) as s:
        sent, error = publish_rows(s, service.due_outbox(s, limit))
    return {"published": sent, "reaped": len(reaped), "stale_retrying": len(stale), "error": error}


class RelayThread(threading.Thread):
    def __init__(self, interval: float | None = None, url: str | None = None):
        super().__init__(name="outbox-relay", daemon=True)
        self.interval = interval or settings.relay_interval
        self.url = url
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                out = relay_once(self.url)
                if out["published"] or out["reaped"] or out["error"]:
                    log.info("relay: %s", out)
            except Exception:  # never let the loop die; the DB may be restarting
                log.exception("relay pass failed")
            self.stopping.wait(self.interval)

    def stop(self) -> None:
        self.stopping.set()


def run_forever(interval: float | None = None) -> None:
    t = RelayThread(interval)
    t.start()
    try:
        while t.is_alive():
            time.sleep(0.5)
    except KeyboardInterrupt:
        t.stop()
