"""Job messages published off the committing thread, each attempt short and bounded.

A commit that wrote outbox rows hands them to this process's dispatcher and goes on: intake
answers 202 as soon as the job is durable in the database, whatever Redis is doing. The
dispatcher thread sends whatever is waiting in one pipelined batch over its own broker
connection, which gives up at once when Redis refuses and within ``publish_timeout`` when it
hangs (no kombu connection retries: the default would retry for seconds per attempt). What it
could not send stays unpublished in the outbox and the relay sends it (``workers.relay``).
"""
from __future__ import annotations

import logging

from celeryconfig import settings
from workers.batching import BatchingThread
from workers.per_process import PerProcess

log = logging.getLogger(__name__)


def bounded_connection():
    """A broker connection that fails fast: no connection retries, short socket timeouts."""
    from workers.app import app

    timeout = settings.publish_timeout
    return app.connection_for_write(transport_options={
        "max_retries": 0, "socket_connect_timeout": timeout, "socket_timeout": timeout})


class Dispatcher:
    """The process's publishing thread for job messages (``add`` never blocks on Redis)."""

    def __init__(self):
        self.conn = None
        self.batches = BatchingThread("job-dispatcher", self.send)   # what it misses, the relay sends

    def add(self, engine, rows: list[tuple]) -> None:
        """Queue ``(outbox id, job id, kind name, payload)`` rows written through ``engine``."""
        self.batches.add((engine, *row) for row in rows)

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until what was added so far has been sent or given up on (at exit; tests)."""
        return self.batches.flush(timeout)

    def send(self, rows: list[tuple]) -> None:
        """``(engine, outbox id, job id, kind name, payload)`` rows: sent, then marked published."""
        from workers import relay

        try:
            if self.conn is None:
                self.conn = bounded_connection()
            from workers.app import app

            producer = app.amqp.Producer(self.conn)
            with producer.batch(max_size=1000):
                for _, _, job_id, kind_name, payload in rows:
                    relay.send(kind_name, job_id, producer, payload)
        except Exception as exc:    # broker away or slow: the outbox rows stay for the relay
            log.warning("publish of %d job(s) deferred to the relay: %s", len(rows), exc)
            self._reset()
            return
        by_engine: dict = {}
        for engine, outbox_id, *_ in rows:
            by_engine.setdefault(engine, []).append(outbox_id)
        for engine, ids in by_engine.items():
            relay.marks.add(engine, ids)

    def _reset(self) -> None:
        conn, self.conn = self.conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception:
                pass


def _start() -> Dispatcher:
    import atexit

    started = Dispatcher()
    atexit.register(started.flush)
    return started


dispatcher = PerProcess(_start)    # this process's dispatcher
