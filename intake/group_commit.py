"""Group commit: the jobs that concurrent requests accept share one transaction.

Each request hands its validated job to the process's writer thread and waits for it. The
writer takes everything waiting (up to ``COURSEWORK_INTAKE_BATCH_MAX`` jobs), writes it with
one statement (``domain.jobs.batch``), commits once and answers the requests: a 202 means
the job is durable. The after-commit hook hands the messages to the process's dispatcher
(``workers.dispatch``), which publishes them off this thread, so Redis being down or slow
never holds an answer; what it cannot publish the relay does. Under load this replaces a transaction, a pool checkout and a commit per job
with one per batch; a request alone is a batch of one and waits for nothing.

``submit_many`` hands over one request's jobs together (``POST /v1/jobs/batch``): they are
never split, so they share one transaction (with other requests' jobs if any are waiting).

A batch that fails as a whole for one job's sake is written again one job per transaction,
so one bad request cannot fail its neighbours. A connection lost while writing is written
again once; a database still away answers 503 with ``Retry-After`` (``intake.errors``).
"""
from __future__ import annotations

import logging
import queue
import threading
from concurrent.futures import Future

from domain.db import session_factory, unavailable
from domain.jobs.batch import NewJob, Outcome, enqueue_each
from workers.per_process import PerProcess

log = logging.getLogger(__name__)


class GroupCommit:
    def __init__(self, url: str, max_batch: int):
        self.url, self.max_batch = url, max(1, max_batch)
        self.waiting = PerProcess(self._start)    # this process's queue and writer thread

    def submit(self, job: NewJob) -> Future:
        """Queue ``job`` for the next batch; the future holds ``(Job, created)`` or the error."""
        return self.submit_many([job])[0]

    def submit_many(self, jobs: list[NewJob]) -> list[Future]:
        """Queue ``jobs`` to be written in one transaction; one future per job, in order."""
        entry = [(job, Future()) for job in jobs]
        self.waiting().put(entry)
        return [done for _, done in entry]

    def _start(self) -> queue.SimpleQueue:
        waiting: queue.SimpleQueue = queue.SimpleQueue()
        threading.Thread(target=self._run, args=(waiting,), name="intake-group-commit", daemon=True).start()
        return waiting

    def _run(self, waiting: queue.SimpleQueue) -> None:
        while True:
            batch = list(waiting.get())
            while len(batch) < self.max_batch:
                try:
                    batch.extend(waiting.get_nowait())
                except queue.Empty:
                    break
            try:
                self._write(batch)
            except BaseException as exc:   # never leave a request waiting, never let the writer die
                log.exception("group commit failed")
                for _, done in batch:
                    if not done.done():
                        done.set_exception(exc)

    def _write(self, batch: list[tuple[NewJob, Future]]) -> None:
        try:
            outcomes: list[Outcome] = self._commit([job for job, _ in batch])
        except Exception as exc:
            if len(batch) == 1 or unavailable(exc):   # a database blip fails every job alike
                for _, done in batch:
                    done.set_exception(exc)
                return
            log.warning("a batch of %d jobs failed (%s); writing them one by one", len(batch), exc)
            for one in batch:
                self._write([one])
            return
        for (_, done), outcome in zip(batch, outcomes):
            if isinstance(outcome, Exception):
                done.set_exception(outcome)
            else:
                done.set_result(outcome)

    def _commit(self, jobs: list[NewJob]) -> list[Outcome]:
        """Write and commit the jobs. A connection lost while writing (nothing committed yet) is
        written again once on a fresh connection; a failed commit is not (it may have landed):
        that error reaches the caller, who retries with its Idempotency-Key."""
        for attempt in (1, 2):
            with session_factory(self.url)() as session:
                try:
                    outcomes = enqueue_each(session, jobs)
                except Exception as exc:
                    session.rollback()
                    if attempt == 1 and unavailable(exc):
                        log.warning("database connection lost while writing %d job(s) (%s); writing again",
                                    len(jobs), exc)
                        continue
                    raise
                session.commit()
                return outcomes
        raise AssertionError("unreachable")


_writers: dict[str, GroupCommit] = {}


def writer(url: str, max_batch: int) -> GroupCommit:
    """The process's writer for this database."""
    w = _writers.get(url)
    if w is None:
        w = _writers.setdefault(url, GroupCommit(url, max_batch))
    return w
