"""Intake and lifecycle throughput, each against a baseline measured in the same run.

    .venv/bin/python bench/intake.py [--jobs 1000] [--raw 5000] [--clients 16]

Starts a private stack (a fresh PostgreSQL database, its own redis-server, local-folder
storage, one intake and one worker process) and prints:

  (a) jobs accepted per second through POST /v1/jobs (concurrent HTTP clients, no worker)
  (b) raw ``apply_async`` per second of the same task (``tasks.ping.ping``) from Python
  (d) jobs accepted per second through POST /v1/jobs/batch (batches of 500, a few connections),
      against raw ``apply_async`` measured just before it, in rounds (median ratio)
  (c) ping jobs completed per second through the full lifecycle (POST → outbox → broker →
      worker → succeeded in the database), versus a bare Celery task that does nothing
      (``bench.noop``, defined below, on the same worker and queue)

Targets: (a)/(b) >= 0.33, (d)/(b) >= 1.0 and (c)/bare >= 0.5. Not a test: figures depend on the machine.
The worker is started with ``celery -A workers.app worker -I bench.intake``, so this module
is importable without side effects: everything runs under ``main()``.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import socket
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from workers.app import app  # noqa: E402

QUEUE = "maintenance"          # ping's queue; the bare task shares it


@app.task(name="bench.noop", queue=QUEUE, ignore_result=True)
def noop() -> None:
    """The baseline: a Celery task that does nothing (same worker, queue, acks_late, events)."""


# --- the private stack ---------------------------------------------------------------------

def start_stack(workdir: Path, concurrency: int, pool: str, intake_processes: int = 1):
    from cli.services import Child, coursework_argv, free_port, wait_http, wait_worker_ready
    from tests.support.stack import Database, Stack, private_redis

    db = Database(f"cw_bench_{os.getpid()}").create()
    redis_server = private_redis()
    env = {"COURSEWORK_STORAGE_URL": f"local://{workdir / 'storage'}", "COURSEWORK_S3_ENDPOINT_URL": "",
           "COURSEWORK_RATE_LIMIT_PER_MINUTE": "0", "COURSEWORK_LOG_LEVEL": "WARNING",
           "COURSEWORK_RELAY_INTERVAL": "1.0", "COURSEWORK_LEASE_SECONDS": "30",
           "COURSEWORK_HEARTBEAT_SECONDS": "5"}
    stack = Stack(db, redis_server.url, "", extra_env=env)
    if intake_processes == 1:
        stack.start_intake()
    else:           # uvicorn --workers: processes sharing one port
        port = free_port()
        child = Child(coursework_argv("intake", "--port", str(port), "--workers", str(intake_processes)),
                      stack.env(), workdir / "intake.log").start()
        stack.children.append(child)
        wait_http(f"http://127.0.0.1:{port}/healthz", child=child)
        stack.intake_url = f"http://127.0.0.1:{port}"
    key = stack.create_key("enqueue,read,operate", name="bench")
    worker = Child([sys.executable, "-m", "celery", "-A", "workers.app", "worker", "-Q", QUEUE, "-c",
                    str(concurrency), "-P", pool, "-E", "-l", "INFO", "-I", "bench.intake", "-n", "bench@%h"],
                   stack.env(COURSEWORK_LOG_LEVEL="INFO"), workdir / "worker.log")
    return stack, key, worker, redis_server, db, wait_worker_ready


def use_stack_settings(stack) -> None:
    """Point this process's settings and Celery app at the private stack."""
    for k, v in stack.env().items():
        if k.startswith("COURSEWORK_"):
            os.environ[k] = v
    import celeryconfig

    celeryconfig.settings = celeryconfig.Settings()
    app.conf.broker_url = stack.redis_url


# --- measurements ----------------------------------------------------------------------------

def rate(n: int, seconds: float) -> float:
    return n / seconds if seconds > 0 else float("inf")


class KeepAlive:
    """The load generator's connection: one keep-alive HTTP/1.1 socket sending a prepared request
    and reading the answer by its Content-Length. httpx spent ~1 ms of CPU per request here, on the
    same two cores the intake runs on; this costs a tenth of that, so the figure is the server's."""

    def __init__(self, url: str, key: str):
        host, port = url.split("//", 1)[1].rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.head = f"Host: {host}\r\nAuthorization: Bearer {key}\r\nContent-Type: application/json\r\n"
        self.buf = b""

    def post(self, path: str, body: bytes) -> int:
        self.sock.sendall(f"POST {path} HTTP/1.1\r\n{self.head}Content-Length: {len(body)}\r\n\r\n".encode() + body)
        while b"\r\n\r\n" not in self.buf:
            self.buf += self._recv()
        head, _, rest = self.buf.partition(b"\r\n\r\n")
        length = int(re.search(rb"(?i)\r\ncontent-length: *(\d+)", head).group(1))
        while len(rest) < length:
            rest += self._recv()
        self.buf = rest[length:]
        self.body = rest[:length]
        return int(head[9:12])

    def _recv(self) -> bytes:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("intake closed the connection")
        return chunk


def post_jobs(stack, key: str, n: int, clients: int, tag: str) -> float:
    """POST n ping jobs with `clients` concurrent keep-alive connections; returns elapsed seconds."""
    local = threading.local()

    def post(i: int) -> int:
        if not hasattr(local, "c"):
            local.c = KeepAlive(stack.intake_url, key)
        return local.c.post("/v1/jobs", json.dumps({"kind": "ping", "payload": {"echo": f"{tag}{i}"}}).encode())

    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(post, range(min(clients, n))))          # warm connections (not counted)
        t0 = time.perf_counter()
        codes = list(pool.map(post, range(n)))
        elapsed = time.perf_counter() - t0
    bad = [c for c in codes if c != 202]
    if bad:
        raise SystemExit(f"intake refused {len(bad)} of {n} jobs: {set(bad)}")
    return elapsed


def post_batches(stack, key: str, n: int, size: int, clients: int, tag: str) -> float:
    """POST n ping jobs as batches of ``size`` over ``clients`` keep-alive connections; every job
    must come back created. Returns elapsed seconds."""
    local = threading.local()

    def post(start: int) -> int:
        if not hasattr(local, "c"):
            local.c = KeepAlive(stack.intake_url, key)
        jobs = [{"kind": "ping", "payload": {"echo": f"{tag}{i}"}, "idempotency_key": f"{tag}-{i}"}
                for i in range(start, min(start + size, n))]
        status = local.c.post("/v1/jobs/batch", json.dumps({"jobs": jobs}).encode())
        created = json.loads(local.c.body)["created"] if status == 200 else 0
        if created != len(jobs):
            raise SystemExit(f"batch at {start}: status {status}, {created} of {len(jobs)} created")
        return created

    starts = list(range(0, n, size))
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(lambda i: post_warm(local, stack, key, i), range(clients)))    # connections (not counted)
        t0 = time.perf_counter()
        total = sum(pool.map(post, starts))
        elapsed = time.perf_counter() - t0
    assert total == n
    return elapsed


def post_warm(local, stack, key: str, i: int) -> None:
    if not hasattr(local, "c"):
        local.c = KeepAlive(stack.intake_url, key)
    local.c.post("/v1/jobs/batch", json.dumps({"jobs": [{"kind": "ping", "payload": {"echo": f"warm{i}"}}]}).encode())


def raw_apply_async(n: int) -> float:
    """apply_async of the same task ping uses (job ids that do not exist: the worker skips them)."""
    from tasks.ping import ping

    ping.apply_async(args=["warmup"], queue=QUEUE)
    t0 = time.perf_counter()
    for i in range(n):
        ping.apply_async(args=[f"raw{i:028d}"], queue=QUEUE)
    return time.perf_counter() - t0


def count_succeeded(db_url: str) -> int:
    from sqlalchemy import func, select

    from domain.db import session_factory
    from domain.jobs.models import Job

    with session_factory(db_url)() as s:
        return s.scalar(select(func.count()).select_from(Job).where(Job.kind == "ping", Job.state == "succeeded"))


def wait_until(pred, timeout: float, what: str) -> None:
    deadline = time.time() + timeout
    while not pred():
        if time.time() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.02)


def end_to_end(stack, key: str, n: int, clients: int, counter: "SucceededCounter") -> tuple[int, float]:
    """POST n pings while the worker runs; elapsed until the worker has reported all of them (and
    the few warm-up posts) done, the same signal the bare baseline waits for (its Celery
    task-succeeded events, sent after the job's success is committed), then confirmed in the
    database. Returns (jobs, seconds)."""
    from tasks.ping import ping

    base = count_succeeded(stack.db_url)
    total = n + min(clients, n)
    done_before = counter.done(ping.name)
    t0 = time.perf_counter()
    post_jobs(stack, key, n, clients, "e2e")
    wait_until(lambda: counter.done(ping.name) >= done_before + total, 60 + n, "ping tasks")
    elapsed = time.perf_counter() - t0
    wait_until(lambda: count_succeeded(stack.db_url) >= base + total, 30, "ping jobs succeeded in the database")
    return total, elapsed


class SucceededCounter(threading.Thread):
    """Counts the worker's task-succeeded events (Celery's event receiver): of the given task ids
    (``count``, the bare baseline's) and by task name (``done(name)``; a task-received event names
    its task, a task-succeeded event gives only its id)."""

    def __init__(self):
        super().__init__(daemon=True)
        self.count, self.ready = 0, threading.Event()
        self.names: set[str] = set()
        self.task_names: dict[str, str] = {}
        self.by_name: dict[str, int] = {}

    def done(self, task_name: str) -> int:
        return self.by_name.get(task_name, 0)

    def run(self) -> None:
        def on_received(event):
            self.task_names[event["uuid"]] = event["name"]

        def on_succeeded(event):
            uuid = event.get("uuid")
            if uuid in self.names:
                self.count += 1
            name = self.task_names.pop(uuid, None)
            if name:
                self.by_name[name] = self.by_name.get(name, 0) + 1

        try:
            with app.connection() as conn:
                recv = app.events.Receiver(conn, handlers={"task-received": on_received,
                                                           "task-succeeded": on_succeeded})
                self.ready.set()
                recv.capture(limit=None, timeout=None, wakeup=True)
        except Exception:  # the broker went away at the end of the run
            pass


def bare_celery(n: int, counter: SucceededCounter) -> float:
    """apply_async n no-op tasks; elapsed until the worker reports all n succeeded."""
    ids = [f"noop-{i}" for i in range(n)]
    counter.names.update(ids)
    t0 = time.perf_counter()
    for task_id in ids:
        noop.apply_async(task_id=task_id)
    wait_until(lambda: counter.count >= n, 60 + n, "bare tasks")
    return time.perf_counter() - t0


def drain_queue(redis_url: str) -> None:
    import redis

    r = redis.Redis.from_url(redis_url)
    r.delete(QUEUE)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--jobs", type=int, default=1000, help="jobs for (a) and (c)")
    p.add_argument("--raw", type=int, default=5000, help="messages for (b) and the bare baseline")
    p.add_argument("--clients", type=int, default=16, help="concurrent HTTP clients")
    p.add_argument("--batch-jobs", type=int, default=20000, help="jobs for (d)")
    p.add_argument("--batch-size", type=int, default=500, help="jobs per POST /v1/jobs/batch in (d)")
    p.add_argument("--batch-clients", type=int, default=2, help="concurrent connections in (d)")
    p.add_argument("--rounds", type=int, default=3, help="rounds of (d), each with its own raw baseline")
    p.add_argument("--concurrency", type=int, default=4, help="worker processes/threads")
    p.add_argument("--intake-processes", type=int, default=1, help="uvicorn worker processes of the intake")
    p.add_argument("--pool", default="threads", choices=["prefork", "threads"],
                   help="worker pool (compose runs the maintenance queue on threads)")
    args = p.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="cw-bench-"))
    stack, key, worker, redis_server, db, wait_ready = start_stack(workdir, args.concurrency, args.pool,
                                                                       args.intake_processes)
    try:
        use_stack_settings(stack)
        print(f"machine: {os.cpu_count()} cores; intake: {args.intake_processes} uvicorn process(es); worker: "
              f"{args.pool} x {args.concurrency}; {args.clients} keep-alive HTTP connections")

        # (a) and (b) with no worker running, so nothing else competes for the CPU
        a = rate(args.jobs, post_jobs(stack, key, args.jobs, args.clients, "a"))
        b = rate(args.raw, raw_apply_async(args.raw))
        drain_queue(stack.redis_url)      # the jobs of (a) stay queued in the database; unused
        print(f"(a) POST /v1/jobs accepted:        {a:9.1f} jobs/s   ({args.jobs} jobs)")
        print(f"(b) raw apply_async (tasks.ping):  {b:9.1f} msgs/s   ({args.raw} messages)")
        print(f"    (a)/(b) = {a / b:.3f}   target >= 0.33   {'OK' if a / b >= 0.33 else 'MISSED'}")
        # (d) in rounds, each against a raw apply_async run just before it: the machine's load
        # drifts over a run, and a ratio of two measurements taken minutes apart would show it
        ratios = []
        per_round = max(args.batch_size, args.batch_jobs // args.rounds)
        for r in range(args.rounds):
            b_r = rate(args.raw // 2, raw_apply_async(args.raw // 2))
            d_r = rate(per_round, post_batches(stack, key, per_round, args.batch_size, args.batch_clients, f"d{r}-"))
            drain_queue(stack.redis_url)
            ratios.append(d_r / b_r)
            print(f"(d) POST /v1/jobs/batch accepted:  {d_r:9.1f} jobs/s   ({per_round} jobs, {args.batch_size} per "
                  f"request, {args.batch_clients} connections) vs raw {b_r:.1f} msgs/s → {d_r / b_r:.3f}")
        mid = sorted(ratios)[len(ratios) // 2]
        print(f"    (d)/(b) median of {args.rounds} = {mid:.3f}   target >= 1.0    {'OK' if mid >= 1.0 else 'MISSED'}")

        worker.start()
        stack.children.append(worker)
        wait_ready(worker)
        counter = SucceededCounter()
        counter.start()
        counter.ready.wait(10)
        time.sleep(0.5)
        bare = rate(args.raw, bare_celery(args.raw, counter))
        c = rate(*end_to_end(stack, key, args.jobs, args.clients, counter))
        print(f"(c) ping end to end (HTTP → DB):   {c:9.1f} jobs/s   ({args.jobs} jobs)")
        print(f"    bare Celery no-op task:        {bare:9.1f} tasks/s  ({args.raw} tasks)")
        print(f"    (c)/bare = {c / bare:.3f}   target >= 0.5    {'OK' if c / bare >= 0.5 else 'MISSED'}")
    finally:
        stack.stop()
        redis_server.stop()
        db.drop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
