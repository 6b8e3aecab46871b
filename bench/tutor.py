"""Tutor benchmark: time to first token seen by an SSE client through intake + worker + Redis,
versus calling the same local model server directly, with N concurrent sessions.

    .venv/bin/python bench/tutor.py [--sessions 20] [--rounds 3] [--model-delay 0.2]
                                    [--intake-workers 1] [--worker-processes 1] [--trace]

1. Starts a private stack: a fresh PostgreSQL database, a private redis-server, a local
   OpenAI-compatible model server (tests/integration/tutor/model_server.py) whose first token
   comes after ``--model-delay`` seconds, one worker process on the ``tutor`` queue (thread pool,
   concurrency = sessions) and the intake API.
2. Baseline: ``--sessions`` threads call the model server directly with the official ``openai``
   client (streamed) and time the first content chunk. ``--rounds`` rounds.
3. Through the platform: ``--sessions`` threads each post a learner message through intake and
   follow ``GET /v1/tutor/sessions/{id}/stream`` (SSE) with the stream token the chat page minted
   when it opened, over the connection its browser opened with the page; the clock runs from the
   POST to the first ``token`` event. Same rounds, same prompts (retrieval adds passages).
4. Prints p50 / p95 of both and the added milliseconds (target: < 50 ms added at p95), and the CPU
   each process spent per message; ``--trace`` adds the hop-by-hop breakdown (client clock, job
   and outbox rows, the reply's Redis stream entry ids).
Not a test: figures depend on the machine and on what else runs on it.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import proc  # noqa: E402

QUESTION = "What does a LEFT OUTER JOIN do when there is no match?"


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


def concurrently(n: int, fn) -> list[float]:
    out: list[float] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    barrier = threading.Barrier(n)

    def run(i):
        try:
            barrier.wait()
            value = fn(i)
            with lock:
                out.append(value)
        except BaseException as exc:  # reported after the round
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return out


def cpu_ms(children) -> dict[str, float]:
    """CPU time (user + system, ms) of the stack's processes and of this one (clients + model server)."""
    import resource

    out = {}
    for child in children:      # each process and its children (uvicorn --workers forks them)
        role = "intake" if "intake" in child.argv else "worker"
        out[role] = out.get(role, 0.0) + proc.tree_cpu(child.proc.pid) * 1000
    usage = resource.getrusage(resource.RUSAGE_SELF)
    out["bench (clients + model server)"] = (usage.ru_utime + usage.ru_stime) * 1000
    return out


def print_trace(traces: list[dict], db_url: str, redis_url: str, model_got: list[float]) -> None:
    """Median and p95 of each hop, from the client's clock, the job row, the reply's Redis stream ids
    and the model server's clock (its requests are not tied to a reply: each is timed from its round's
    first POST)."""
    import redis as redis_lib
    from sqlalchemy import select

    from domain.db import session_factory
    from domain.jobs.models import Job, Outbox
    from domain.tutor.replay import stream_key

    r = redis_lib.Redis.from_url(redis_url)
    with session_factory(db_url)() as s:
        jobs = {j.id: j for j in s.scalars(select(Job).where(Job.id.in_([t["job_id"] for t in traces])))}
        published = dict(s.execute(select(Outbox.job_id, Outbox.published_at)
                                   .where(Outbox.job_id.in_(list(jobs)))).all())
    rows = []
    for t in traces:
        job, entries = jobs[t["job_id"]], r.xrange(stream_key(t["reply_id"]))
        stamp = {}
        for entry_id, fields in entries:
            kind = fields[b"type"].decode()
            stamp.setdefault(kind, int(entry_id.split(b"-")[0]) / 1000)
        w = t["wall"]
        rows.append({
            "intake: POST answered": t["posted"],
            "  job row written (intake, after auth+checks)": job.created_at.timestamp() - w,
            "  outbox row marked published (at or after the send)":
                published[job.id].timestamp() - w if published.get(job.id) else None,
            "SSE response open (client)": t["opened"],
            "worker claimed the job": job.started_at.timestamp() - w,
            "model server got the request (from the round's start)": None,
            "worker wrote the first token to Redis (with `start`)": stamp["token"] - w,
            "client saw the first token": t["first"],
        })
    print("where the time goes (ms since the POST; p50 / p95 over samples; clocks: client, PostgreSQL rows, Redis ids)")
    for name in rows[0]:
        values = [row[name] * 1000 for row in rows if row[name] is not None]
        if name.startswith("model server"):
            values = [v * 1000 for v in model_got]
        if not values:
            continue
        print(f"  {name:<52} {pct(values, 50):7.1f} {pct(values, 95):7.1f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sessions", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--intake-workers", type=int, default=1, help="uvicorn worker processes of the intake")
    ap.add_argument("--worker-processes", type=int, default=1, help="tutor worker processes (threads split)")
    ap.add_argument("--model-delay", type=float, default=0.2, help="seconds the model takes to its first token")
    ap.add_argument("--trace", action="store_true", help="also print where the platform's time goes, hop by hop")
    args = ap.parse_args()

    import httpx
    import openai

    from celeryconfig import Settings
    from cli.services import Child, RedisServer, coursework_argv, free_port, wait_http
    from tests.integration.tutor.conftest import make_course, make_user
    from tests.integration.tutor.model_server import ModelServer
    from tests.support.stack import LOG_DIR, Database, Stack
    from tests.unit.tutor.course_fixture import LESSONS

    db = Database(f"cw_bench_tutor_{os.getpid()}").create()
    redis = RedisServer().start()
    model = ModelServer(first_token_delay=args.model_delay, chunk_delay=0.01).start()
    stack = None
    try:
        # the product's lease, heartbeat and relay periods, not the tests' short ones (a lease renewed every
        # second and a relay sweep every 0.3 s are there to make worker-loss tests quick)
        product = {f"COURSEWORK_{name.upper()}": str(Settings.model_fields[name].default)
                   for name in ("lease_seconds", "heartbeat_seconds", "relay_interval")}
        stack = Stack(db, redis.url, "http://127.0.0.1:9", extra_env={
            **product, "COURSEWORK_OPENAI_API_KEY": "bench-key", "COURSEWORK_OPENAI_BASE_URL": model.base_url,
            "COURSEWORK_TUTOR_DAILY_TOKEN_BUDGET": "100000000"})
        threads = max(1, -(-args.sessions // args.worker_processes))
        for n in range(args.worker_processes):
            stack.start_worker(queues="tutor", concurrency=threads, pool="threads", name=f"bench-tutor{n}")
        if args.intake_workers == 1:
            stack.start_intake()
        else:
            port = free_port()
            child = Child(coursework_argv("intake", "--port", str(port), "--workers", str(args.intake_workers)),
                          stack.env(), LOG_DIR / f"intake-bench-{port}.log").start()
            stack.children.append(child)
            wait_http(f"http://127.0.0.1:{port}/healthz", child=child)
            stack.intake_url = f"http://127.0.0.1:{port}"
        key = stack.create_key("enqueue,read", name="bench-web-tier")
        course = make_course(db.url, LESSONS)
        api = httpx.Client(base_url=stack.intake_url, headers={"Authorization": f"Bearer {key}"}, timeout=60,
                           limits=httpx.Limits(max_connections=4 * args.sessions))
        sessions = []
        for _ in range(args.sessions):
            body = {"user_id": make_user(db.url), "course_id": course["course_id"]}
            sessions.append(api.post("/v1/tutor/sessions", json=body).json()["session"]["id"])
        print(f"sessions: {args.sessions} concurrent, rounds: {args.rounds}, model first-token delay: "
              f"{args.model_delay * 1000:.0f} ms; {args.worker_processes} worker process(es) (threads, "
              f"{threads} each), {args.intake_workers} intake process(es)",
              flush=True)

        traces: list[dict] = []

        # one browser per learner, opened with the chat page and reused for every message (as a browser
        # keeps its connection to the origin): creating an httpx client costs 15-30 ms of CPU (an SSL
        # context, even for http://), 20 of them at once held this process's GIL for ~0.4 s, and this
        # process also hosts the model server, so that cost landed on the platform's side only
        browsers = [httpx.Client(base_url=stack.intake_url, timeout=60) for _ in sessions]
        for browser in browsers:
            browser.get("/healthz")                           # the chat page has loaded

        round_wall = [0.0]

        def platform_ttft(i: int) -> float:
            sid, browser = sessions[i], browsers[i]
            wall, started = time.time(), time.perf_counter()
            round_wall[0] = round_wall[0] or wall
            posted = api.post(f"/v1/tutor/sessions/{sid}/messages", json={"content": QUESTION})
            assert posted.status_code == 202, posted.text
            posted_at = time.perf_counter()
            rid = posted.json()["reply"]["id"]
            url = f"{stream_urls[sid]}&reply_id={rid}"
            first_at = None
            with browser.stream("GET", url) as r:
                opened_at = time.perf_counter()
                event = None
                for line in r.iter_lines():
                    if line.startswith("event:"):
                        event = line[6:].strip()
                        if event == "token" and first_at is None:
                            first_at = time.perf_counter()
                        if event in ("done", "error"):
                            break
            assert first_at is not None and event == "done", event
            traces.append({"reply_id": rid, "job_id": posted.json()["job"]["id"], "wall": wall,
                           "posted": posted_at - started, "opened": opened_at - started,
                           "first": first_at - started})
            return first_at - started

        # the chat page gets its stream token when it opens (tokens live COURSEWORK_TUTOR_STREAM_TOKEN_TTL)
        stream_urls = {sid: api.post(f"/v1/tutor/sessions/{sid}/stream-token").json()["stream_url"] for sid in sessions}
        platform_ttft(0)                                      # warm-up: index the course, open connections
        prompt_messages = model.requests[-1]["messages"]     # the worker's prompt, passages included
        client = openai.OpenAI(api_key="bench-key", base_url=model.base_url, max_retries=0)

        def direct_ttft(i: int) -> float:
            started = time.perf_counter()
            stream = client.chat.completions.create(model="bench", messages=prompt_messages, stream=True)
            first = None
            for chunk in stream:
                if first is None and chunk.choices and chunk.choices[0].delta.content:
                    first = time.perf_counter() - started
            return first

        concurrently(args.sessions, direct_ttft)              # warm the direct client's pool too
        direct, platform, cpu_spent = [], [], {}
        model_got: list[float] = []       # when the model server got each platform request, from its round's start
        for _ in range(args.rounds):
            direct += concurrently(args.sessions, direct_ttft)
            before = cpu_ms(stack.children)
            round_wall[0], seen = 0.0, len(model.arrivals)
            platform += concurrently(args.sessions, platform_ttft)
            model_got += [at - round_wall[0] for at in model.arrivals[seen:]]
            for name, spent in cpu_ms(stack.children).items():
                cpu_spent[name] = cpu_spent.get(name, 0.0) + spent - before.get(name, 0.0)

        ms = lambda v: v * 1000  # noqa: E731
        d50, d95, p50, p95 = (ms(pct(direct, 50)), ms(pct(direct, 95)), ms(pct(platform, 50)), ms(pct(platform, 95)))
        print(f"samples: {len(direct)} direct, {len(platform)} through the platform")
        print(f"direct to the model server   : p50 {d50:7.1f} ms   p95 {d95:7.1f} ms   mean {ms(statistics.mean(direct)):7.1f} ms")
        print(f"SSE via intake+worker+Redis  : p50 {p50:7.1f} ms   p95 {p95:7.1f} ms   mean {ms(statistics.mean(platform)):7.1f} ms")
        print(f"added by the platform        : p50 {p50 - d50:7.1f} ms   p95 {p95 - d95:7.1f} ms   (target: < 50 ms at p95)")
        print(f"ratio platform / direct      : p50 {p50 / d50:7.2f}      p95 {p95 / d95:7.2f}")
        per_message = ", ".join(f"{name} {spent / len(platform):.1f}" for name, spent in cpu_spent.items())
        print(f"CPU ms per message through the platform: {per_message} (PostgreSQL and Redis not counted)")
        if args.trace:
            print_trace(traces[1:], db.url, redis.url, model_got)
        print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} (other work on the machine "
              f"inflates both columns, the platform's more: it runs more processes)")
    finally:
        if stack:
            stack.stop()
        model.stop()
        redis.stop()
        from domain.db import get_engine

        get_engine(db.url).dispose()
        db.drop()


if __name__ == "__main__":
    main()
