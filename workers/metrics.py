"""What workers count for Prometheus: job run time and wait time by kind, and counters of
endings, retries, dead letters and failures.

Prefork runs jobs in child processes, so a worker started with ``--metrics-port`` uses
prometheus_client's multiprocess mode: ``serve`` points ``PROMETHEUS_MULTIPROC_DIR`` at a
fresh folder of that worker *before* prometheus_client is imported (``workers.metrics_dir``), every process writes its
samples there, and the worker's main process serves their sum on ``/metrics``. Each worker
is one scrape target; its series are its own (sum them across targets).

Dead letters the reaper writes (a worker lost too often) happen outside any worker: they show
in the platform gauges (``/metrics/platform``), not here.
"""
from __future__ import annotations

import time
from datetime import datetime, timezone

from prometheus_client import Counter, Histogram

DURATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 3 * 3600)
WAIT_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)

JOB_DURATION = Histogram("coursework_job_duration_seconds", "Run time of one attempt of a job, by kind and outcome",
                         ["kind", "outcome"], buckets=DURATION_BUCKETS)
JOB_WAIT = Histogram("coursework_job_wait_seconds",
                     "Time from a job being due (accepted, or its run_at) to its first attempt starting",
                     ["kind"], buckets=WAIT_BUCKETS)
JOBS_FINISHED = Counter("coursework_jobs_finished_total", "Attempts that ended, by kind and outcome "
                        "(succeeded, failed, dead_lettered, cancelled, retrying; lost: its lease was gone)", ["kind", "outcome"])
RETRIES = Counter("coursework_job_retries_total", "Attempts that ended in a retry", ["kind"])
DEAD_LETTERS = Counter("coursework_job_dead_letters_total", "Jobs dead-lettered by a worker (retries exhausted)",
                       ["kind"])
FAILURES = Counter("coursework_job_failures_total", "Jobs that failed permanently (no retry)", ["kind"])

_BY_OUTCOME = {"retrying": RETRIES, "dead_lettered": DEAD_LETTERS, "failed": FAILURES}


def started(kind: str, attempt: int, created_at: datetime | None, run_at: datetime | None) -> float:
    """A run began: observe its wait (first attempts only); returns the clock to pass to ``ended``."""
    if attempt == 1 and created_at is not None:
        due = max(_aware(created_at), _aware(run_at) if run_at else _aware(created_at))
        JOB_WAIT.labels(kind).observe(max(0.0, (datetime.now(timezone.utc) - due).total_seconds()))
    return time.monotonic()


def ended(kind: str, outcome: str, clock: float) -> None:
    JOB_DURATION.labels(kind, outcome).observe(time.monotonic() - clock)
    JOBS_FINISHED.labels(kind, outcome).inc()
    counter = _BY_OUTCOME.get(outcome)
    if counter is not None:
        counter.labels(kind).inc()


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def serve(port: int, address: str = "0.0.0.0") -> None:
    """Serve the sum of this worker's processes on ``port`` (a thread of the main process)."""
    from prometheus_client import CollectorRegistry, start_http_server
    from prometheus_client.multiprocess import MultiProcessCollector

    registry = CollectorRegistry()
    MultiProcessCollector(registry)
    start_http_server(port, addr=address, registry=registry)

