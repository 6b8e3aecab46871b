"""Sandbox cost and evaluate throughput, each against a baseline measured in the same run.

    .venv/bin/python bench/sandbox.py [--cases 10] [--rounds 20] [--submissions 60] [--skip-per-case]

Prints:
  (a) time per test case of a Python program run through the sandbox (``judge.evaluate``: one bwrap
      per submission, new namespaces, rlimits and a fresh /tmp per case from ``runner.c``, verdict),
      versus the same program run directly with ``subprocess.run`` (same interpreter, flags and stdin;
      ratio; target <= 1.10 for the trivial program), and bare ``bwrap --ro-bind / /`` runs,
      without namespaces and with ``--unshare-all``, for scale.
      Three programs: a trivial one (interpreter start-up dominates), and a sieve doing ~15-50 ms
      (``work``) and ~100 ms (``work100``) of work on an idle core. Also the CPU time per case (all
      processes: the worker's own share and its children's), sandbox versus direct, and the same
      plus the CPU time of kernel threads meanwhile (machine-wide, so other work's share is in it
      too): a network namespace, for one, is freed by a kernel worker after each sandboxed case.
  (b) submissions evaluated per minute (3 Python test cases each) through the whole flow
      (submission row + evaluate job → broker → worker → sandbox → graded), with one worker
      process and with two, on a private stack (fresh PostgreSQL database, own redis-server);
      scaling two/one (target >= 1.8 on an otherwise idle machine of 2+ cores).
  (c) fairness under 2x oversubscription: one worker with twice as many processes as usable
      cores, fed correct programs that need ~75% of their CPU limit; how many kept their
      Accepted with the default slot count (= usable cores: extra processes wait for a slot)
      and with as many slots as processes (every run at once, sharing the cores).
Not a test: the figures depend on the machine and on what else runs on it.
"""
from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import proc  # noqa: E402

TRIVIAL = "a, b = map(int, input().split())\nprint(a + b)\n"
NEAR_LIMIT = "import time\nwhile time.process_time() < 0.75:\n    pass\nprint(int(input()) * 2)\n"
WORK = ("n = int(input())\nsieve = bytearray([1]) * (n + 1)\nfor i in range(2, int(n ** 0.5) + 1):\n"
        "    if sieve[i]:\n        sieve[i * i::i] = bytearray(len(sieve[i * i::i]))\n"
        "print(sum(i for i in range(2, n + 1) if sieve[i]))\n")
INPUTS = {"trivial": ("2 3\n", "5\n"), "work": ("600000\n", None), "work100": ("4000000\n", None)}


def per_case(cases: int, rounds_n: int = 20) -> None:
    work = Path(tempfile.mkdtemp(prefix="cw-bench-sandbox-"))
    try:
        _per_case(work, cases, rounds_n)
    finally:
        shutil.rmtree(work, ignore_errors=True)


class Timestamps:
    """A run control that notes the time of each progress report (one per case)."""

    def __init__(self, marks: list[float]):
        self.marks = marks

    def progress(self, percent: float, message: str = "") -> None:
        self.marks.append(time.perf_counter())

    def check_cancelled(self) -> None:
        pass


def _per_case(work: Path, cases: int, rounds_n: int) -> None:
    from domain.sandbox.helpers import build_helpers
    from domain.sandbox.judge import CaseSpec, JudgeConfig, evaluate

    os.chmod(work, 0o711)
    config = JudgeConfig(work_dir=work, base_uid=63000, slots=4)
    build_helpers(work)   # once per host in production: not part of a test case's cost
    print(f"(a) time per test case: median of {rounds_n} x {cases} runs each")
    for name, code in (("trivial", TRIVIAL), ("work", WORK), ("work100", WORK)):
        stdin, expected = INPUTS[name]
        src = work / f"direct-{name}.py"
        src.write_text(code)
        if expected is None:
            expected = subprocess.run(["/usr/bin/python3", "-I", "-B", str(src)], input=stdin.encode(),
                                      capture_output=True, check=True).stdout.decode()
        specs = [CaseSpec(stdin=stdin, expected=expected)] * cases
        cpu = {"direct": 0.0, "sandbox": 0.0}
        kernel = {"direct": 0.0, "sandbox": 0.0}

        def run_direct(argv: list[str], account: str | None = None) -> float:
            c = _cpu()
            t = time.perf_counter()
            out = subprocess.run(argv, input=stdin.encode(), capture_output=True, timeout=30)
            elapsed = time.perf_counter() - t
            if account:
                cpu[account] += _cpu() - c
            assert out.stdout.decode() == expected
            return elapsed

        python = ["/usr/bin/python3", "-I", "-B", str(src)]
        bare = ["bwrap", "--ro-bind", "/", "/", "--die-with-parent", *python]
        bare_ns = ["bwrap", "--ro-bind", "/", "/", "--unshare-all", "--die-with-parent", *python]
        times: dict[str, list[float]] = {"direct": [], "bwrap": [], "bwrap_ns": [], "sandbox": []}
        for _ in range(rounds_n):   # interleaved rounds, so load from elsewhere hits all of them alike
            k = proc.kernel_threads()
            for _ in range(cases):
                times["direct"].append(run_direct(python, "direct"))
            kernel["direct"] += proc.kernel_since(k)
            for _ in range(cases):
                times["bwrap"].append(run_direct(bare))
                times["bwrap_ns"].append(run_direct(bare_ns))
            time.sleep(0.05)   # kernel threads finish the bare bwraps' namespaces before the sandbox part
            k = proc.kernel_threads()
            marks = [time.perf_counter()]   # one evaluate() of all cases; a timestamp after each case
            c = _cpu()
            result = evaluate("python", code, specs, time_limit_ms=5000, memory_limit_mb=256, config=config,
                              control=Timestamps(marks))
            cpu["sandbox"] += _cpu() - c
            time.sleep(0.05)   # the last case's namespaces are freed by kernel threads after it
            kernel["sandbox"] += proc.kernel_since(k)
            assert result.verdict == "AC", result.feedback
            times["sandbox"] += [b - a for a, b in zip(marks, marks[1:])]
        d, b, n, s = (statistics.median(times[k]) for k in ("direct", "bwrap", "bwrap_ns", "sandbox"))
        cd, cs = (cpu[k] / (rounds_n * cases) for k in ("direct", "sandbox"))
        print(f"  {name:<8} direct {d * 1000:6.1f} ms | bwrap, no namespaces {b * 1000:6.1f} ms (x{b / d:.2f}) | "
              f"bwrap --unshare-all {n * 1000:6.1f} ms (x{n / d:.2f}) | full sandbox {s * 1000:6.1f} ms "
              f"=> ratio sandbox/direct {s / d:.2f}")
        md, ms = (statistics.mean(times[k]) for k in ("direct", "sandbox"))   # the mean counts each evaluate's first case
        kd, ks = (kernel[k] / (rounds_n * cases) for k in ("direct", "sandbox"))
        print(f"  {'':<8} means: direct {md * 1000:6.1f} ms | full sandbox {ms * 1000:6.1f} ms => {ms / md:.2f}; "
              f"CPU per case: direct {cd * 1000:6.1f} ms | sandbox {cs * 1000:6.1f} ms => CPU ratio {cs / cd:.2f}")
        print(f"  {'':<8} with kernel threads' CPU meanwhile: direct {(cd + kd) * 1000:6.1f} ms | sandbox "
              f"{(cs + ks) * 1000:6.1f} ms => {(cs + ks) / (cd + kd):.2f}")


def _cpu() -> float:
    """CPU seconds used so far by this process and its reaped children (bwrap, measure, the programs)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def throughput(submissions: int) -> None:
    from cli.services import Child, wait_worker_ready
    from tests.support.stack import Database, Stack, private_redis

    workdir = Path(tempfile.mkdtemp(prefix="cw-bench-stack-"))
    os.chmod(workdir, 0o711)   # the slot uids reach their boxes below it
    db = Database(f"cw_bench_sbx_{os.getpid()}").create()
    redis_server = private_redis()
    env = {"COURSEWORK_STORAGE_URL": f"local://{workdir / 'storage'}", "COURSEWORK_S3_ENDPOINT_URL": "",
           "COURSEWORK_LOG_LEVEL": "INFO", "COURSEWORK_RELAY_INTERVAL": "0.5", "COURSEWORK_LEASE_SECONDS": "30",
           "COURSEWORK_HEARTBEAT_SECONDS": "5", "COURSEWORK_DATABASE_URL": db.url,
           "COURSEWORK_REDIS_URL": redis_server.url,
           # slots of its own (not shared with anything else running sandboxes on this host)
           "COURSEWORK_SANDBOX_WORK_DIR": str(workdir / "sandbox"), "COURSEWORK_SANDBOX_UID_BASE": "63100"}
    assert "celeryconfig" not in sys.modules, "settings must be read after the private stack's env is set"
    os.environ.update(env)   # jobs below are sent to the private Redis, never a shared one
    stack = Stack(db, redis_server.url, "", extra_env=env)
    try:
        from domain.core.models import User
        from domain.db import unit_of_work
        from domain.jobs import enqueueing
        from domain.sandbox import submissions as subs
        from domain.sandbox.models import Submission, SubmissionStatus
        from workers import events

        events.install()   # each evaluate job is sent right after the commit that writes it

        with unit_of_work(db.url) as s:
            user = User(email="bench@example.test", name="Bench")
            s.add(user)
            s.flush()
            ex = subs.create_exercise(s, title="sum", languages=["python"], time_limit_ms=2000, memory_limit_mb=128,
                                      cases=[{"stdin": f"{i} {i}\n", "expected_stdout": f"{2 * i}\n"}
                                             for i in range(3)])
            ids = {"exercise_id": ex.id, "user_id": user.id}
        print(f"(b) submissions evaluated per minute, {submissions} submissions x 3 Python cases")
        results = {}
        for workers in (1, 2):
            children = []
            stack.children = children   # stack.stop() in finally ends them even on an error
            children += [Child([sys.executable, "-m", "celery", "-A", "workers.app", "worker", "-Q", "sandbox",
                               "-c", "1", "-P", "prefork", "-l", "INFO", "-n", f"bench{i}-{workers}@%h"], stack.env(),
                              workdir / f"worker-{workers}-{i}.log").start() for i in range(workers)]
            for child in children:
                wait_worker_ready(child)
            job_ids, sub_ids = [], []
            started = time.perf_counter()   # the clock includes writing the submissions (their commit sends the jobs)
            with unit_of_work(db.url) as s:
                for _ in range(submissions):
                    sub = subs.create(s, language="python", code=TRIVIAL, **ids)
                    job, _ = enqueueing.enqueue(s, "evaluate", {"submission_id": sub.id})
                    sub.job_id = job.id
                    job_ids.append(job.id)
                    sub_ids.append(sub.id)
            while True:
                with unit_of_work(db.url) as s:
                    done = sum(s.get(Submission, i).status is SubmissionStatus.graded for i in sub_ids)
                if done == submissions:
                    break
                if time.perf_counter() - started > 600:
                    raise TimeoutError(f"only {done}/{submissions} graded after 600 s")
                time.sleep(0.05)
            elapsed = time.perf_counter() - started
            results[workers] = submissions / elapsed * 60
            print(f"  {workers} worker process(es): {results[workers]:7.1f} submissions/min "
                  f"({elapsed:.1f} s for {submissions})")
            stack.stop()
        print(f"  scaling two/one = {results[2] / results[1]:.2f} (2 CPU cores here, shared with other work)")
        fairness(stack, db, workdir, subs, enqueueing, unit_of_work, Submission, SubmissionStatus, user_id=ids["user_id"])
    finally:
        stack.stop()
        redis_server.stop()
        db.drop()


def fairness(stack, db, workdir, subs, enqueueing, unit_of_work, Submission, SubmissionStatus, *, user_id: str,
             per_process: int = 3) -> None:
    from cli.services import Child, wait_worker_ready
    from domain.sandbox.slots import usable_cores

    cores = usable_cores()
    processes = 2 * cores
    with unit_of_work(db.url) as s:
        ex = subs.create_exercise(s, title="near the limit", languages=["python"], time_limit_ms=1000,
                                  memory_limit_mb=128, cases=[{"stdin": f"{i}\n", "expected_stdout": f"{2 * i}\n"}
                                                              for i in range(2)])
        exercise_id = ex.id
    count = processes * per_process
    print(f"(c) 2x oversubscription: {processes} worker processes on {cores} usable cores, {count} submissions "
          f"x 2 cases of a correct program using ~0.75 s of CPU under a 1 s limit (wall clock 3 s)")
    for label, slots in (("slots = usable cores (default)", "0"), (f"slots = {processes} (one per process)",
                                                                   str(processes))):
        child = Child([sys.executable, "-m", "celery", "-A", "workers.app", "worker", "-Q", "sandbox", "-c",
                       str(processes), "-P", "prefork", "-l", "INFO", "-n", f"fair-{slots}@%h"],
                      {**stack.env(), "COURSEWORK_SANDBOX_SLOTS": slots}, workdir / f"worker-fair-{slots}.log").start()
        stack.children = [child]
        wait_worker_ready(child)
        sub_ids = []
        started = time.perf_counter()
        with unit_of_work(db.url) as s:
            for _ in range(count):
                sub = subs.create(s, language="python", code=NEAR_LIMIT, exercise_id=exercise_id, user_id=user_id)
                job, _ = enqueueing.enqueue(s, "evaluate", {"submission_id": sub.id})
                sub.job_id = job.id
                sub_ids.append(sub.id)
        while True:
            with unit_of_work(db.url) as s:
                rows = [s.get(Submission, i) for i in sub_ids]
                done = [r for r in rows if r.status is SubmissionStatus.graded]
                if len(done) == count:
                    verdicts = [c["verdict"] for r in done for c in r.results]
                    break
            if time.perf_counter() - started > 900:
                raise TimeoutError(f"only {len(done)}/{count} graded after 900 s")
            time.sleep(0.1)
        elapsed = time.perf_counter() - started
        kept = sum(v == "AC" for v in verdicts)
        others = {v: verdicts.count(v) for v in sorted(set(verdicts)) if v != "AC"}
        print(f"  {label:<34} {kept}/{len(verdicts)} cases kept Accepted {others or ''} "
              f"({elapsed:.1f} s, load average {os.getloadavg()[0]:.1f})")
        stack.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=10, help="test cases per evaluate() in part (a)")
    parser.add_argument("--rounds", type=int, default=20, help="interleaved rounds in part (a)")
    parser.add_argument("--submissions", type=int, default=60)
    parser.add_argument("--skip-per-case", action="store_true", help="only the flow parts (b) and (c)")
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    if not args.skip_per_case:
        per_case(args.cases, args.rounds)
    throughput(args.submissions)


if __name__ == "__main__":
    main()
