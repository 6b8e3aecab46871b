"""Chaos: jobs posted at a steady rate while Redis, workers and database connections fail.

    .venv/bin/python bench/chaos.py [--jobs 1600] [--rate 20] [--persistence off,on] [--seed 1]

For each Redis mode (``off``: no persistence, a stop loses every message; ``on``: append-only
file, fsync every second) it starts a private stack (a fresh PostgreSQL database, its own
redis-server, local-folder storage, one intake, two workers: prefork and threads) and posts
``ping`` jobs at a steady rate from concurrent clients, open loop (a request's latency counts
from the moment it was due, so a stalled intake shows). Each client retries 503, 429 and lost
connections with the same Idempotency-Key, as the client library does. The first half of the
jobs is posted with no fault (the baseline), the second half while a few faults strike at
random moments: Redis stopped for a few seconds then started, a worker SIGKILLed (all its
processes) and another started in its place, every database connection of the stack cut
(``pg_terminate_backend``). Then it waits for every accepted job to end and prints:

  accepted     jobs answered 202
  succeeded    accepted jobs that succeeded
  lost         accepted jobs the database does not have, or that ended other than succeeded
  run twice    accepted jobs that completed more than once (two ``job.succeeded`` events)
  re-run       jobs started again because their worker was killed mid-job (expected, not a loss)
  stuck        accepted jobs not finished when the wait ended
  p50 / p99    intake latency during faults divided by the same without faults

Goal: 0 lost, 0 run twice, 0 stuck, p99 ratio <= 2. Not a test: figures depend on the machine.
"""
from __future__ import annotations

import argparse
import os
import queue
import random
import secrets
import signal
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import psycopg  # noqa: E402

STRANDED_SECONDS = 10          # a lost message is published again after this (the stack's setting)
LEASE_SECONDS = 6              # a killed worker's job is requeued after this
REDIS_DOWN_SECONDS = 5.0       # how long each Redis stop lasts


@dataclass
class Posted:
    due: float                 # when the client was to send it (monotonic)
    latency: float | None = None
    job_id: str | None = None
    status: int | None = None
    tries: int = 0


@dataclass
class Run:
    mode: str
    baseline: list[Posted] = field(default_factory=list)
    faulted: list[Posted] = field(default_factory=list)
    faults: list[str] = field(default_factory=list)


# --- the private stack -----------------------------------------------------------------------

class ChaosStack:
    def __init__(self, workdir: Path, persistent: bool):
        from cli.services import RedisServer
        from tests.support.stack import Database, Stack

        self.db = Database(f"cw_chaos_{os.getpid()}_{secrets.token_hex(2)}").create()
        self.redis = RedisServer(persistent=persistent).start()
        env = {"COURSEWORK_STORAGE_URL": f"local://{workdir / 'storage'}", "COURSEWORK_S3_ENDPOINT_URL": "",
               "COURSEWORK_RATE_LIMIT_PER_MINUTE": "100000", "COURSEWORK_LOG_LEVEL": "INFO",
               "COURSEWORK_RELAY_INTERVAL": "0.5", "COURSEWORK_LEASE_SECONDS": str(LEASE_SECONDS),
               "COURSEWORK_HEARTBEAT_SECONDS": "1", "COURSEWORK_RETRY_BACKOFF_MAX": "5",
               "COURSEWORK_STRANDED_SECONDS": str(STRANDED_SECONDS),
               "COURSEWORK_DB_POOL_SIZE": "4", "COURSEWORK_DB_MAX_OVERFLOW": "6"}   # a shared server's max_connections
        self.stack = Stack(self.db, self.redis.url, "", extra_env=env)
        self.stack.start_intake()
        self.key = self.stack.create_key("enqueue,read,operate", name="chaos")
        self.workers = [self.start_worker("prefork", 3), self.start_worker("threads", 6)]

    def start_worker(self, pool: str, concurrency: int):
        return self.stack.start_worker(queues="maintenance", concurrency=concurrency, pool=pool,
                                       name=f"chaos-{pool}-{secrets.token_hex(2)}")

    # the faults
    def redis_stop(self) -> str:
        self.redis.halt(signal.SIGTERM)
        time.sleep(REDIS_DOWN_SECONDS)
        self.redis.start()
        return f"redis stopped {REDIS_DOWN_SECONDS:.0f} s"

    def worker_kill(self) -> str:
        i = random.randrange(len(self.workers))
        victim = self.workers[i]
        pool = "prefork" if "prefork" in str(victim.log_path) else "threads"
        victim.signal_group(signal.SIGKILL)
        time.sleep(1.0)                       # the supervisor's restart delay
        self.workers[i] = self.start_worker(pool, 3 if pool == "prefork" else 6)
        return f"{pool} worker SIGKILLed and replaced"

    def db_cut(self) -> str:
        from tests.support.stack import PG_ADMIN

        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            n = len(conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                 "WHERE datname = %s AND pid <> pg_backend_pid()", (self.db.name,)).fetchall())
        return f"{n} database connections cut"

    def stop(self) -> None:
        self.stack.stop()
        self.redis.stop()
        self.db.drop()


# --- load --------------------------------------------------------------------------------------

def post_one(client: httpx.Client, item: Posted, n: int, tag: str) -> None:
    """POST one job (retrying 503 / 429 / lost connections with the same key), open loop."""
    wait = item.due - time.monotonic()
    if wait > 0:
        time.sleep(wait)
    body = {"kind": "ping", "payload": {"echo": f"{tag}-{n}", "sleep": random.uniform(0.05, 0.5)}}
    headers = {"Idempotency-Key": f"{tag}-{n}"}
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        item.tries += 1
        try:
            r = client.post("/v1/jobs", json=body, headers=headers)
        except httpx.HTTPError:
            time.sleep(0.2)
            continue
        item.status = r.status_code
        if r.status_code == 202:
            item.job_id = r.json()["job"]["id"]
            item.latency = time.monotonic() - item.due
            return
        if r.status_code in (429, 503):
            time.sleep(float(r.headers.get("Retry-After", "1")))
            continue
        return


class Clients:
    """Keep-alive HTTP clients made up front (making one costs more than a request), lent out
    one per request in flight."""

    def __init__(self, stack: ChaosStack, n: int):
        self.free: queue.SimpleQueue = queue.SimpleQueue()
        for _ in range(n):
            self.free.put(httpx.Client(base_url=stack.stack.intake_url, timeout=60,
                                       headers={"Authorization": f"Bearer {stack.key}"}))

    def post(self, item: Posted, n: int, tag: str) -> None:
        client = self.free.get()
        try:
            post_one(client, item, n, tag)
        except Exception as exc:     # counted as not accepted
            print(f"  client error: {exc}", file=sys.stderr)
        finally:
            self.free.put(client)


def post_at_rate(clients: Clients, n: int, rate: float, tag: str, threads: int = 32) -> list[Posted]:
    start = time.monotonic() + 0.2
    items = [Posted(due=start + i / rate) for i in range(n)]
    with ThreadPoolExecutor(threads) as pool:
        for i, item in enumerate(items):
            pool.submit(clients.post, item, i, tag)
    return items


class Chaos(threading.Thread):
    """The faults, at random moments within ``window`` seconds. The thread lives until ``end()``:
    the workers it starts are its children, ended by the kernel when their starting thread
    exits (``PR_SET_PDEATHSIG``)."""

    def __init__(self, stack: ChaosStack, window: float, rng: random.Random):
        super().__init__(name="chaos", daemon=True)
        self.stack, self.window, self.rng = stack, window, rng
        self.log: list[str] = []
        self.struck, self.ending = threading.Event(), threading.Event()

    def run(self) -> None:
        s = self.stack
        faults = [s.redis_stop, s.worker_kill, s.db_cut, s.redis_stop, s.worker_kill, s.db_cut]
        self.rng.shuffle(faults)
        slot = self.window / len(faults)
        t0 = time.monotonic()
        for i, fault in enumerate(faults):
            at = t0 + i * slot + self.rng.uniform(0, slot * 0.4)
            time.sleep(max(0.0, at - time.monotonic()))
            self.log.append(f"{time.monotonic() - t0:5.1f} s  {fault()}")
        self.struck.set()
        self.ending.wait()

    def end(self) -> None:
        self.ending.set()
        self.join()


# --- outcome -----------------------------------------------------------------------------------

def outcome(stack: ChaosStack, ids: list[str], timeout: float) -> dict:
    """Wait until every accepted job ended (or ``timeout``), then count."""
    dsn = stack.db.dsn
    terminal = ("succeeded", "failed", "dead_lettered", "cancelled")
    deadline = time.monotonic() + timeout
    while True:
        try:
            conn = psycopg.connect(dsn)
        except psycopg.OperationalError as exc:     # a busy shared server: ask again
            print(f"  (database: {exc})", file=sys.stderr)
            time.sleep(2)
            continue
        with conn:
            states = dict(conn.execute("SELECT id, state FROM jobs WHERE id = ANY(%s)", (ids,)).fetchall())
        open_ = [i for i in ids if states.get(i) not in terminal]
        if not open_ or time.monotonic() > deadline:
            break
        time.sleep(1.0)
    with psycopg.connect(dsn) as conn:
        counts = conn.execute(
            "SELECT job_id, count(*) FILTER (WHERE type = 'job.succeeded'), count(*) FILTER (WHERE type = 'job.running') "
            "FROM job_events WHERE job_id = ANY(%s) GROUP BY job_id", (ids,)).fetchall()
        if open_:
            stuck_states: dict = {}
            for i in open_:
                stuck_states[states.get(i)] = stuck_states.get(states.get(i), 0) + 1
            sample = conn.execute("SELECT type, data, created_at FROM job_events WHERE job_id = %s ORDER BY id",
                                  (open_[0],)).fetchall()
            outbox = conn.execute("SELECT available_at, published_at, publish_attempts, last_error FROM outbox "
                                  "WHERE job_id = %s", (open_[0],)).fetchall()
            import redis

            r = redis.Redis.from_url(stack.redis.url)
            sizes = {k.decode(): r.llen(k) for k in r.keys("*") if r.type(k) == b"list"}
            print(f"  stuck by state: {stuck_states}; broker lists: {sizes}; one of them, {open_[0]}:",
                  file=sys.stderr)
            for row in sample + outbox:
                print(f"    {row}", file=sys.stderr)
    succeeded_twice = sum(1 for _, s, _ in counts if s > 1)
    rerun = sum(1 for _, _, r in counts if r > 1)
    return {"succeeded": sum(1 for i in ids if states.get(i) == "succeeded"),
            "lost": sum(1 for i in ids if i not in states or states[i] in terminal and states[i] != "succeeded"),
            "run_twice": succeeded_twice, "rerun": rerun, "stuck": len(open_)}


def quantile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else float("nan")


def run_mode(mode: str, jobs: int, rate: float, seed: int) -> dict:
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory(prefix="cw-chaos-") as tmp:
        stack = ChaosStack(Path(tmp), persistent=(mode == "on"))
        chaos = None
        try:
            run = Run(mode)
            clients = Clients(stack, 32)
            post_at_rate(clients, 50, rate, f"warm-{mode}-{seed}")        # connections, caches, pools
            half = jobs // 2
            run.baseline = post_at_rate(clients, half, rate, f"base-{mode}-{seed}")
            chaos = Chaos(stack, window=half / rate * 0.6, rng=rng)
            chaos.start()
            run.faulted = post_at_rate(clients, jobs - half, rate, f"chaos-{mode}-{seed}")
            chaos.struck.wait()
            run.faults = chaos.log
            items = run.baseline + run.faulted
            ids = [p.job_id for p in items if p.job_id]
            result = outcome(stack, ids, timeout=STRANDED_SECONDS * 4 + 120)
        finally:
            if chaos is not None:
                chaos.end()
            stack.stop()
    base = [p.latency for p in run.baseline if p.latency is not None]
    hit = [p.latency for p in run.faulted if p.latency is not None]
    result.update(mode=mode, posted=len(items), accepted=len(ids), faults=run.faults,
                  retried=sum(1 for p in items if p.tries > 1),
                  p50_base=quantile(base, 50), p99_base=quantile(base, 99),
                  p50_fault=quantile(hit, 50), p99_fault=quantile(hit, 99))
    return result


def report(r: dict) -> None:
    print(f"\nRedis persistence {r['mode']}: {r['posted']} jobs posted")
    for line in r["faults"]:
        print(f"  fault at {line}")
    print(f"  accepted   {r['accepted']}   (requests retried by the client: {r['retried']})")
    print(f"  succeeded  {r['succeeded']}")
    print(f"  lost       {r['lost']}")
    print(f"  run twice  {r['run_twice']}   (re-run after a worker was killed mid-job: {r['rerun']})")
    print(f"  stuck      {r['stuck']}")
    print(f"  intake latency p50 {r['p50_fault'] * 1000:.1f} ms during faults / {r['p50_base'] * 1000:.1f} ms without"
          f" = {r['p50_fault'] / r['p50_base']:.2f}")
    print(f"  intake latency p99 {r['p99_fault'] * 1000:.1f} ms during faults / {r['p99_base'] * 1000:.1f} ms without"
          f" = {r['p99_fault'] / r['p99_base']:.2f}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--jobs", type=int, default=1600, help="jobs per mode (half baseline, half under faults)")
    ap.add_argument("--rate", type=float, default=20.0, help="jobs posted per second")
    ap.add_argument("--persistence", default="off,on", help="Redis modes to run: off, on or both")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    ok = True
    for mode in args.persistence.split(","):
        r = run_mode(mode.strip(), args.jobs, args.rate, args.seed)
        report(r)
        ok &= r["lost"] == 0 and r["run_twice"] == 0 and r["stuck"] == 0 and r["p99_fault"] <= 2 * r["p99_base"]
    print("\ngoal (0 lost, 0 run twice, 0 stuck, p99 ratio <= 2):", "met" if ok else "NOT met")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
