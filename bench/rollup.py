"""Rollup and ingestion benchmark on PostgreSQL, each figure against a baseline of the same run.

    .venv/bin/python bench/rollup.py [--events 10000000] [--new 100000] [--post 50000] [--clients 4]

The defaults are the target scale (10M events, then 100k new); ``--events 1000000 --new 10000``
is a quicker run (~1 minute).
1. Loads ``--events`` learning events into a fresh database with one ``COPY ... FROM STDIN
   (FREEZE)`` (rows from the same generator as the new events; secondary indexes dropped during
   the load and rebuilt), and rolls them all up once.
2. COPYs ``--new`` events (mostly the next day, 2% late: up to 30 days back), then times the
   incremental rollup (median of three runs over the same events, watermark put back) against a
   full recompute of every table, checks both give the same tables, and prints the ratio
   (target: incremental >= 20x faster).
3. Posts ``--post`` events through ``POST /v1/events`` in batches of ``--batch`` (the documented
   default limit, 1000) from ``--clients`` concurrent HTTP clients (a real intake and worker),
   until every ingest job has succeeded, against a raw COPY of the same rows in the same batches
   from the same number of concurrent clients (target: ratio >= 0.3). One COPY of everything
   from one client is printed too, for reference.
Not a test: figures depend on the machine and on what else runs on it.
"""
from __future__ import annotations

import argparse
import io
import os
import random
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

ZONES = [("UTC", 0), ("Asia/Tokyo", 9), ("America/New_York", -5), ("Europe/Berlin", 1), ("Asia/Kolkata", 5),
         ("America/Los_Angeles", -8), ("Australia/Sydney", 11), ("America/Sao_Paulo", -3)]
TYPES = ["lesson_started", "lesson_completed", "video_watched", "video_watched", "video_watched", "login",
         "quiz_graded", "submission_evaluated", "submission_evaluated", "enrollment", "coupon_used",
         "assignment_graded", "certificate_issued"]
COLS = ("event_id", "type", "user_id", "course_id", "lesson_id", "exercise_id", "topic", "coupon_code",
        "seconds", "score", "occurred_at", "day", "local_day", "ingested_at")
END = datetime(2026, 11, 1, tzinfo=timezone.utc)


class Gen:
    def __init__(self, users: int, courses: int, days: int, seed: int = 1):
        self.rnd = random.Random(seed)
        self.users, self.courses, self.days = users, courses, days

    def event(self, i: int, prefix: str, at: datetime) -> dict:
        r = self.rnd
        u = r.randrange(self.users)
        t = r.choice(TYPES)
        ev = {"event_id": f"{prefix}{i}", "type": t, "user_id": f"u{u}",
              "occurred_at": at.isoformat().replace("+00:00", "Z")}
        if t not in ("login", "submission_evaluated"):
            ev["course_id"] = f"c{r.randrange(self.courses)}"
        if t in ("lesson_started", "lesson_completed", "video_watched"):
            ev["lesson_id"] = f"l{r.randrange(40)}"
        if t == "video_watched":
            ev["seconds"] = r.randrange(30, 1800)
        if t in ("quiz_graded", "assignment_graded", "submission_evaluated"):
            ev["score"] = float(r.randrange(0, 101))
        if t == "submission_evaluated":
            ev["exercise_id"], ev["topic"] = f"x{r.randrange(300)}", f"topic{r.randrange(20)}"
        if t == "coupon_used":
            ev["coupon_code"] = f"CODE{r.randrange(50)}"
        return ev

    def history_time(self) -> datetime:
        return END - timedelta(seconds=self.rnd.randrange(self.days * 86400))

    def new_time(self) -> datetime:
        if self.rnd.random() < 0.02:   # late events: up to 30 days back
            return END - timedelta(seconds=self.rnd.randrange(30 * 86400))
        return END + timedelta(seconds=self.rnd.randrange(86400))


def copy_text(events: list[dict], now: datetime) -> bytes:
    """COPY text rows; local_day from the learner's fixed bench offset (what ingestion stamps)."""
    out = io.StringIO()
    stamp = now.isoformat()
    for ev in events:
        at = datetime.fromisoformat(ev["occurred_at"].replace("Z", "+00:00"))
        offset = ZONES[int(ev["user_id"][1:]) % len(ZONES)][1]
        local = (at + timedelta(hours=offset)).date()
        vals = [ev["event_id"], ev["type"], ev["user_id"], ev.get("course_id"), ev.get("lesson_id"),
                ev.get("exercise_id"), ev.get("topic"), ev.get("coupon_code"), ev.get("seconds"), ev.get("score"),
                at.isoformat(), at.date().isoformat(), local.isoformat(), stamp]
        out.write("\t".join("\\N" if v is None else str(v) for v in vals) + "\n")
    return out.getvalue().encode()


def copy_events(dsn: str, events: list[dict]) -> None:
    import psycopg

    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        with cur.copy(f"COPY learning_events ({', '.join(COLS)}) FROM STDIN") as cp:
            cp.write(copy_text(events, datetime.now(timezone.utc)))


def load_users(dsn: str, users: int) -> None:
    import psycopg

    buf = io.StringIO()
    now = datetime.now(timezone.utc).isoformat()
    for u in range(users):
        buf.write(f"u{u}\tu{u}@bench.test\tu{u}\tstudent\t{ZONES[u % len(ZONES)][0]}\ten\t60\t{now}\n")
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        with cur.copy("COPY users (id, email, name, role, timezone, locale, weekly_goal_minutes, created_at) "
                      "FROM STDIN") as cp:
            cp.write(buf.getvalue().encode())


def fingerprint(dsn: str) -> dict:
    import psycopg

    tables = ["analytics_course_day", "analytics_learner_day", "analytics_learner_stats", "analytics_topic_score",
              "analytics_platform_day", "analytics_course_popularity"]
    out = {}
    with psycopg.connect(dsn) as conn:
        for t in tables:
            out[t] = conn.execute(f"SELECT count(*), md5(string_agg(md5(x::text), '' ORDER BY md5(x::text))) "
                                  f"FROM {t} x").fetchone()
    return out


def reset_watermark(dsn: str, seq: int) -> None:
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("UPDATE analytics_rollup_state SET last_seq = %s WHERE name = 'rollup'", [seq])


def timed(label: str, fn):
    t0 = time.perf_counter()
    out = fn()
    dt = time.perf_counter() - t0
    print(f"  {label:<44} {dt:9.2f} s", flush=True)
    return dt, out


SECONDARY = ("ix_learning_events_course_day", "ix_learning_events_user_local_day", "ix_learning_events_topic_user")


def load_history(dsn: str, gen: Gen, n: int, chunk: int = 200_000) -> None:
    """The history with one ``COPY ... FROM STDIN (FREEZE)``, generated by ``Gen`` in chunks
    while PostgreSQL parses the previous one. Secondary indexes are dropped during the load and
    rebuilt after it (what a bulk load does); FREEZE (the table is truncated in the same
    transaction) spares the first scans from rewriting every page to set hint bits."""
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        defs = {name: conn.execute("SELECT indexdef FROM pg_indexes WHERE indexname = %s", [name]).fetchone()[0]
                for name in SECONDARY}
        for name in SECONDARY:
            conn.execute(f"DROP INDEX {name}")
        with conn.transaction(), conn.cursor() as cur:
            cur.execute("TRUNCATE learning_events")
            with cur.copy(f"COPY learning_events ({', '.join(COLS)}) FROM STDIN (FREEZE)") as cp:
                done = 0
                now = datetime.now(timezone.utc)
                while done < n:
                    m = min(chunk, n - done)
                    cp.write(copy_text([gen.event(i, "h", gen.history_time()) for i in range(done, done + m)], now))
                    done += m
                    if done % 1_000_000 == 0 or done == n:
                        print(f"    loaded {done:,} events", flush=True)
        t0 = time.perf_counter()
        conn.execute("SET maintenance_work_mem = '256MB'")
        for name, ddl in defs.items():
            conn.execute(ddl)
        conn.execute("VACUUM ANALYZE learning_events")
        print(f"    rebuilt secondary indexes in {time.perf_counter() - t0:.1f} s", flush=True)


def ingest_jobs_done(conn) -> int:
    """Finished ingest jobs (the jobs table is small: polling it costs nothing next to 10M events)."""
    done, bad = conn.execute("SELECT count(*) FILTER (WHERE state = 'succeeded'), "
                             "count(*) FILTER (WHERE state IN ('failed', 'dead_lettered')) "
                             "FROM jobs WHERE kind = 'ingest_events'").fetchone()
    if bad:
        raise RuntimeError(f"{bad} ingest job(s) failed: see the worker log")
    return done


def wait_jobs(conn, before: int, n: int, t0: float, limit: float = 600) -> None:
    while ingest_jobs_done(conn) < before + n:
        if time.perf_counter() - t0 > limit:
            raise TimeoutError(f"ingest jobs did not finish in {limit:.0f} s")
        time.sleep(0.02)


def post_vs_copy(stack, key: str, gen: Gen, dsn: str, n: int, batch: int, clients: int, tag: str = "") -> None:
    """Both sides get the same rows in the same batches from ``clients`` concurrent clients, each
    with one connection it keeps (HTTP keep-alive; one PostgreSQL connection per COPY client)."""
    import threading

    import httpx
    import psycopg

    local = threading.local()

    def post(b):
        if not hasattr(local, "http"):
            local.http = httpx.Client(base_url=stack.intake_url, headers={"Authorization": f"Bearer {key}"},
                                      timeout=120)
        # a sender keys each batch, so that resending it after a timeout cannot enqueue it twice
        r = local.http.post("/v1/events", json={"events": b}, headers={"Idempotency-Key": b[0]["event_id"]})
        assert r.status_code == 202, r.text

    def copy(b):
        if not hasattr(local, "pg"):
            local.pg = psycopg.connect(dsn, autocommit=True)
        with local.pg.cursor() as cur, cur.copy(f"COPY learning_events ({', '.join(COLS)}) FROM STDIN") as cp:
            cp.write(copy_text(b, datetime.now(timezone.utc)))

    events = [gen.event(i, f"p{tag}", gen.new_time()) for i in range(n)]
    batches = [events[i:i + batch] for i in range(0, n, batch)]
    copies = [[{**ev, "event_id": "r" + ev["event_id"][1:]} for ev in b] for b in batches]
    with psycopg.connect(dsn, autocommit=True) as conn, ThreadPoolExecutor(clients) as pool:
        # warm-up (not timed): first requests and jobs in each process import and connect
        before, t0 = ingest_jobs_done(conn), time.perf_counter()
        list(pool.map(post, [[gen.event(i, f"w{tag}{j}-", gen.new_time()) for i in range(batch)] for j in range(clients)]))
        wait_jobs(conn, before, clients, t0)

        before = ingest_jobs_done(conn)
        seq = conn.execute("SELECT coalesce(max(seq), 0) FROM learning_events").fetchone()[0]
        t0 = time.perf_counter()
        list(pool.map(post, batches))
        accepted = time.perf_counter() - t0
        wait_jobs(conn, before, len(batches), t0)     # a job succeeds after its rows are committed
        posted = time.perf_counter() - t0
        stored = conn.execute("SELECT count(*) FROM learning_events WHERE seq > %s", [seq]).fetchone()[0]
        assert stored == n, f"{stored} of {n} posted events in the table"

        t0 = time.perf_counter()
        list(pool.map(copy, copies))
        raw = time.perf_counter() - t0
        single = [{**ev, "event_id": "s" + ev["event_id"][1:]} for ev in events]
        t0 = time.perf_counter()
        copy_events(dsn, single)
        raw_single = time.perf_counter() - t0
    print(f"  POST /v1/events accepted (HTTP only)         {n / accepted:9.0f} events/s")
    print(f"  POST /v1/events → rows in the table          {n / posted:9.0f} events/s  ({posted:.2f} s)")
    print(f"  raw COPY, same batches and clients           {n / raw:9.0f} events/s  ({raw:.2f} s)")
    print(f"  (one COPY of all {n:,} rows, one client       {n / raw_single:9.0f} events/s  ({raw_single:.2f} s))")
    print(f"  ratio POST / raw COPY                        {raw / posted:9.3f}   (target >= 0.3)")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=10_000_000)
    ap.add_argument("--new", type=int, default=100_000)
    ap.add_argument("--users", type=int, default=100_000)
    ap.add_argument("--courses", type=int, default=200)
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--post", type=int, default=50_000)
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--workers", type=int, default=4,
                    help="worker processes (analytics queue): as many DB writers as COPY clients")
    ap.add_argument("--intake-workers", type=int, default=2, help="intake (uvicorn) processes")
    args = ap.parse_args()

    from cli.services import Child, coursework_argv, free_port, wait_http
    from tests.support.stack import Database, Stack, private_redis

    workdir = Path(tempfile.mkdtemp(prefix="cw-bench-rollup-"))
    db = Database(f"cw_bench_rollup_{os.getpid()}").create()
    os.environ["COURSEWORK_DATABASE_URL"] = db.url
    from functools import partial

    from domain.analytics import rollup
    from domain.db import unit_of_work

    on_db = partial(unit_of_work, db.url)

    stack = redis_server = None
    try:
        print(f"rollup benchmark: {args.events:,} events, {args.users:,} learners, {args.courses} courses, "
              f"{args.days} days; then {args.new:,} new")
        gen = Gen(args.users, args.courses, args.days)
        load_users(db.dsn, args.users)
        load_dt, _ = timed(f"load {args.events:,} events", lambda: load_history(db.dsn, gen, args.events))
        print(f"    = {args.events / load_dt:,.0f} events/s")
        timed("first full rollup (builds every table)", lambda: rollup.run(on_db, full=True))
        timed(f"COPY {args.new:,} new events", lambda: copy_events(
            db.dsn, [gen.event(i, "n", gen.new_time()) for i in range(args.new)]))
        inc_dt, inc = timed("incremental rollup of the new events", lambda: rollup.run(on_db))
        print(f"    keys recomputed: {inc['course_days']:,} course-days, {inc['learner_days']:,} learner-days, "
              f"{inc['topic_learners']:,} topic-learners, {inc['platform_days']} platform days")
        after_incremental = fingerprint(db.dsn)
        # the same incremental run twice more (watermark put back): the machine is shared, so the
        # ratio uses the median of three runs of identical work
        runs = [inc_dt]
        for i in (2, 3):
            reset_watermark(db.dsn, inc["from_seq"])
            dt, _ = timed(f"incremental rollup, same events, run {i}", lambda: rollup.run(on_db))
            runs.append(dt)
        assert fingerprint(db.dsn) == after_incremental, "a rerun changed the tables"
        inc_dt = sorted(runs)[1]
        print(f"  incremental median of 3                      {inc_dt:9.2f} s  (reruns left the tables identical)")
        full_dt, _ = timed("full recompute of every table", lambda: rollup.run(on_db, full=True))
        same = fingerprint(db.dsn) == after_incremental
        print(f"  incremental tables == full recompute tables  {same}")
        print(f"  ratio full / incremental                     {full_dt / inc_dt:9.1f}x  (target >= 20x)")

        print(f"ingestion: {args.post:,} events in batches of {args.batch}, {args.clients} clients, "
              f"{args.intake_workers} intake and {args.workers} worker processes")
        redis_server = private_redis()
        env = {"COURSEWORK_STORAGE_URL": f"local://{workdir / 'storage'}", "COURSEWORK_S3_ENDPOINT_URL": "",
               "COURSEWORK_RATE_LIMIT_PER_MINUTE": "0",
               "COURSEWORK_ANALYTICS_MAX_BATCH": str(args.batch), "COURSEWORK_MAX_BODY_BYTES": str(8_000_000),
               "COURSEWORK_LEASE_SECONDS": "30", "COURSEWORK_HEARTBEAT_SECONDS": "5"}
        stack = Stack(db, redis_server.url, "", extra_env=env)
        port = free_port()
        intake = Child(coursework_argv("intake", "--port", str(port), "--workers", str(args.intake_workers)),
                       stack.env(), workdir / "intake.log").start()
        stack.children.append(intake)
        wait_http(f"http://127.0.0.1:{port}/healthz", child=intake)
        stack.intake_url = f"http://127.0.0.1:{port}"
        stack.start_worker(queues="analytics", concurrency=args.workers, name=f"bench-analytics-{os.getpid()}")
        key = stack.create_key("enqueue,read,operate", name="bench")
        post_vs_copy(stack, key, gen, db.dsn, args.post, args.batch, args.clients)
        return 0
    finally:
        if stack:
            stack.stop()
        if redis_server:
            redis_server.stop()
        db.drop()


if __name__ == "__main__":
    sys.exit(main())
