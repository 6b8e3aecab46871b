"""The outbox relay and the stuck-job reaper.

Whoever writes a job writes its outbox row in the same transaction; right after the commit
the row is handed to the process's dispatcher (``publish_committed``, hooked on every Session
by ``workers.events``; sent off the committing thread by ``workers.dispatch``) and marked published a moment later, in batches, off the request path (``PublishedMarks``).
Whatever could not be published (Redis down), is not due yet (``run_at``) or was published
but never marked (the process died) is published by this relay: a loop in intake (a thread),
the ``coursework relay`` command and a beat entry all call ``relay_once``; ``FOR UPDATE SKIP
LOCKED`` keeps concurrent relays from colliding. A message published twice is harmless: the
job's lease lets one delivery run it and the other skip.

Redis is a cache of work, not its record: a job left ``queued`` (or ``retrying`` past due)
longer than ``stranded_seconds`` with no claim is published again whatever its outbox row says,
once its queue has nothing waiting in the broker (a flush, a restart without persistence, a
failover that missed writes, a worker killed before its claim all lose messages this way).
"""
from __future__ import annotations

import atexit
import logging
import threading
import time
from contextlib import ExitStack
from datetime import timezone

from sqlalchemy import update

from celeryconfig import settings
from domain.db import unit_of_work, utcnow
from domain.jobs import enqueueing, states, sweeps
from domain.jobs.labels import task_argsrepr
from domain.jobs.models import Job, Outbox
from workers.per_process import PerProcess

log = logging.getLogger(__name__)


def send(kind_name: str, job_id: str, producer=None, payload: dict | None = None) -> None:
    """Publish one job's message: its kind's task, on its kind's queue, no broker retries.
    Flower shows its arguments as ``job=<id> kind=<kind>`` and a label from the payload."""
    from workers.app import app

    kind = enqueueing.job_kind(kind_name)
    app.send_task(kind.task, args=[job_id], queue=kind.queue, retry=False, producer=producer,
                  argsrepr=task_argsrepr(job_id, kind_name, payload), kwargsrepr="{}")


def publish_rows(session, rows: list[Outbox]) -> tuple[int, str | None]:
    """Send the rows' jobs over one fail-fast connection; stop at the first broker error."""
    sent = 0
    with ExitStack() as stack:
        producer = None
        for row in rows:
            job = session.get(Job, row.job_id)
            if job is None or job.state in states.TERMINAL:
                row.published_at = utcnow()      # nothing to run any more
                continue
            try:
                if producer is None:
                    producer = _bounded_producer(stack)
                send(job.kind, job.id, producer, job.payload)
            except Exception as exc:  # broker unreachable: keep the row, try again later
                row.publish_attempts += 1
                row.last_error = f"{type(exc).__name__}: {exc}"[:1000]
                return sent, row.last_error
            row.published_at = utcnow()
            sent += 1
    return sent, None


def _bounded_producer(stack: ExitStack):
    from workers.app import app
    from workers.dispatch import bounded_connection

    return app.amqp.Producer(stack.enter_context(bounded_connection()))


class PublishedMarks:
    """Outbox ids published right after their commit, marked ``published_at`` in one UPDATE per
    engine every ``interval`` seconds (well inside the relay's grace period, so the relay does
    not publish them again). One per process: the thread is (re)started lazily after a fork."""

    def __init__(self, interval: float = 0.2):
        self.interval = interval
        self.lock = threading.Lock()
        self.pending: dict = {}          # engine → [outbox ids]
        self.flusher = PerProcess(self._start)

    def add(self, engine, ids: list[int]) -> None:
        self.flusher()                   # started on first use in this process (again after a fork)
        with self.lock:
            self.pending.setdefault(engine, []).extend(ids)

    def _start(self) -> threading.Thread:
        with self.lock:
            self.pending = {}            # a forked child does not mark its parent's rows
        thread = threading.Thread(target=self._run, name="outbox-marks", daemon=True)
        thread.start()
        return thread

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
    """After a commit: hand the outbox rows it wrote that are due now, given as ``(outbox id,
    job id, available_at, kind name, payload)``, to this process's dispatcher (``workers.dispatch``),
    which sends them off this thread; whatever it cannot send is left to the relay. Returns
    how many were handed over."""
    from workers.dispatch import dispatcher

    now = utcnow()
    due = [(outbox_id, job_id, kind_name, payload) for outbox_id, job_id, available_at, kind_name, payload in rows
           if available_at.replace(tzinfo=available_at.tzinfo or timezone.utc) <= now]   # else: run_at, the relay's
    if due:
        dispatcher().add(session.get_bind(), due)
    return len(due)


def _fast_redis():
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    timeout = max(settings.publish_timeout, 0.1)
    return redis.Redis.from_url(settings.redis_url, socket_connect_timeout=timeout, socket_timeout=timeout,
                                retry=Retry(NoBackoff(), 0))


fast_redis = PerProcess(_fast_redis)    # one quick try, no retry backoff: the relay's next pass retries


def idle_queues() -> set[str]:
    """The job queues with no message waiting in the broker (none if Redis cannot say)."""
    from domain.registry import CONTROL_QUEUE, FAMILY_QUEUES

    try:
        pipe = fast_redis().pipeline(transaction=False)
        names = (*FAMILY_QUEUES, CONTROL_QUEUE)
        for name in names:
            pipe.llen(name)
        return {name for name, depth in zip(names, pipe.execute()) if depth == 0}
    except Exception:   # Redis away: nothing could be published anyway
        return set()


def relay_once(url: str | None = None, limit: int = 200) -> dict:
    url = url or settings.database_url
    with unit_of_work(url) as s:
        reaped = sweeps.reap_expired(s)
    with unit_of_work(url) as s:
        stranded = sweeps.republish_stranded(s, settings.stranded_seconds,
                                              settings.retry_backoff_max + settings.stranded_seconds,
                                              idle_queues())
    with unit_of_work(url) as s:
        sent, error = publish_rows(s, sweeps.due_outbox(s, limit))
    return {"published": sent, "reaped": len(reaped), "stranded": len(stranded), "error": error}


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
                if out["published"] or out["reaped"] or out["stranded"] or out["error"]:
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
