"""`coursework sandbox run|check|settle` and the demo step of the sandbox family.

``coursework sandbox run main.py --language python --stdin "2 3" --expected 5`` judges one file
in the real sandbox, no worker needed; ``coursework sandbox check`` proves the sandbox works on
this host (bubblewrap, namespaces, limits) before a worker takes the ``sandbox`` queue;
``coursework sandbox settle`` ends submissions whose job ended without a grade while no sandbox
code ran (cancelled while queued, dead-lettered by the reaper): ``cancelled`` / ``error``.
"""
from __future__ import annotations

import json
import os
import secrets
import sys
from pathlib import Path

from domain.sandbox.languages import LANGUAGES


def register(subparsers) -> None:
    p = subparsers.add_parser("sandbox", help="run code in the submission sandbox; check that it works here")
    sp = p.add_subparsers(dest="sandbox_cmd", required=True)
    run = sp.add_parser("run", help="judge one source file against one stdin/expected pair")
    run.add_argument("file", type=Path, help="the source file to compile and run")
    run.add_argument("--language", "-l", choices=sorted(LANGUAGES), required=True, help="the source's language")
    run.add_argument("--stdin", default="", help="text given to the program on standard input")
    run.add_argument("--expected", default="", help="the output the program should print")
    run.add_argument("--comparison", choices=["exact", "trimmed", "numeric"], default="trimmed",
                     help="how output is compared with --expected (default trimmed)")
    run.add_argument("--time-limit-ms", type=int, default=2000, help="CPU time limit in milliseconds (default 2000)")
    run.add_argument("--memory-mb", type=int, default=256, help="memory limit in MB (default 256)")
    run.set_defaults(fn=_cmd_run)
    check = sp.add_parser("check", help="run a probe program and report what the sandbox isolates")
    check.set_defaults(fn=_cmd_check)
    settle = sp.add_parser("settle", help="end submissions whose evaluate job was cancelled, failed or "
                                          "dead-lettered without grading them")
    settle.add_argument("--limit", type=int, default=1000, help="settle at most this many submissions (default 1000)")
    settle.set_defaults(fn=_cmd_settle)


def _cmd_settle(args) -> int:
    from celeryconfig import settings
    from domain.db import unit_of_work
    from domain.sandbox import submissions

    with unit_of_work(settings.database_url) as s:
        settled = submissions.settle_ended(s, limit=args.limit)
    print(json.dumps({"settled": settled}, indent=2))
    return 0


def _cmd_run(args) -> int:
    from domain.sandbox.judge import CaseSpec, evaluate
    from tasks.sandbox import judge_config

    case = CaseSpec(stdin=args.stdin.replace("\\n", "\n"), expected=args.expected.replace("\\n", "\n"),
                    comparison=args.comparison)
    result = evaluate(args.language, args.file.read_text(), [case], time_limit_ms=args.time_limit_ms,
                      memory_limit_mb=args.memory_mb, config=judge_config())
    print(json.dumps(result.public(), indent=2))
    return 0 if result.verdict == "AC" else 1


PROBE = """
import os, socket
checks = {"uid": os.getuid(), "visible_pids": sorted(int(p) for p in os.listdir('/proc') if p.isdigit()),
          "env": sorted(os.environ), "root_entries": sorted(os.listdir('/'))}
try:
    socket.create_connection(("127.0.0.1", 6379), timeout=1)
    checks["loopback_redis"] = "reachable"
except OSError as exc:
    checks["loopback_redis"] = f"blocked ({exc.strerror})"
print(checks)
"""


def _cmd_check(args) -> int:
    """The probe's view from inside, then the host side: the accounting mode, the slots, and
    processes of a slot uid that no run holds (leftovers: exit status 1)."""
    from domain.sandbox import cgroups, sweep
    from domain.sandbox.judge import CaseSpec, evaluate
    from domain.sandbox.slots import usable_cores
    from tasks.sandbox import judge_config

    config = judge_config()
    try:
        result = evaluate("python", PROBE, [CaseSpec(stdin="", expected="")], time_limit_ms=2000,
                          memory_limit_mb=128, config=config)
    except Exception as exc:
        print(f"the sandbox does not work here: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print(result.cases[0].output.strip())
    print(f"time {result.cases[0].time_ms} ms, memory {result.cases[0].memory_kb} KiB")
    tree = cgroups.tree(config.cgroups)
    root = os.geteuid() == 0
    mode = tree.mode if root else "none"
    print(f"whole-case limits: {mode} ({tree.why if root else 'not root: no slot uids, no cgroups'})")
    print(f"slots: {config.slot_count} (usable cores: {usable_cores()}), wall clock = CPU limit x "
          f"{config.wall_factor} + 1 s")
    if not root:
        return 0
    leftovers = 0
    for report in sweep.slot_reports(config.work_dir, config.base_uid, config.slot_count):
        if report.leftover:
            leftovers += len(report.processes)
            listed = ", ".join(f"{p.pid} {p.name} ({p.state})" for p in report.processes)
            print(f"slot {report.slot} (uid {report.uid}): leftover processes: {listed}")
    if leftovers:
        return 1
    print("leftover processes: none")
    return 0


# --------------------------------------------------------------------------- demo

SUM_PY = "a, b = map(int, input().split())\nprint(a + b)\n"
SUM_C = "#include <stdio.h>\nint main(){long a,b; scanf(\"%ld %ld\",&a,&b); printf(\"%ld\\n\",a+b); return 0;}\n"


def demo(d) -> bool:
    from sqlalchemy import select

    from domain.core.models import Course, Lesson, LessonType, Module, User
    from domain.db import unit_of_work
    from domain.sandbox import submissions
    from domain.sandbox.models import ExerciseProgress

    tag = secrets.token_hex(3)
    with unit_of_work(d.db_url) as s:
        user = User(email=f"coder-{tag}@demo.test", name="Demo Coder")
        course = Course(slug=f"intro-programming-{tag}", title="Intro to programming")
        module = Module(course=course, title="Basics", position=1)
        lesson = Lesson(module=module, title="Add two numbers", position=1, type=LessonType.code_exercise)
        s.add_all([user, course, module, lesson])
        s.flush()
        ex = submissions.create_exercise(
            s, title="Add two numbers", languages=["python", "javascript", "c", "cpp"], lesson_id=lesson.id,
            topic="io", description="Read two integers, print their sum.", time_limit_ms=1000, memory_limit_mb=64,
            starter_code={"python": "a, b = map(int, input().split())\n"}, hints=["int() parses a number"],
            reference_language="python", reference_solution=SUM_PY,
            cases=[{"stdin": "2 3\n", "expected_stdout": "5\n"},
                   {"stdin": "-4 10\n", "expected_stdout": "6\n"},
                   {"stdin": "1000000000 1000000000\n", "expected_stdout": "2000000000\n", "hidden": True,
                    "weight": 2}])
        ids = {"exercise_id": ex.id, "user_id": user.id}
    attempts = [("python", "print(5)\n", "a hard-coded answer"),
                ("python", "while True:\n    pass\n", "an infinite loop"),
                ("c", SUM_C, "a correct C solution")]
    ok = True
    for language, code, what in attempts:
        out = d.client.request("POST", "/v1/submissions", json={**ids, "language": language, "code": code})
        job = d.client.wait(out["job"]["id"], timeout=120)
        sub = d.client.request("GET", f"/v1/submissions/{out['submission']['id']}")["submission"]
        verdicts = " ".join(c["verdict"] for c in sub["results"])
        d.say(f"{what:<22} ({language}): job {job['state']}, verdict {sub['verdict']}, score {sub['score']}, "
              f"cases [{verdicts}]")
        ok = ok and job["state"] == "succeeded"
    with unit_of_work(d.db_url) as s:
        p = s.scalars(select(ExerciseProgress).filter_by(**ids)).one()
        d.say(f"progress: attempts={p.attempts} best_score={p.best_score} completed={p.completed_at is not None}")
        ok = ok and p.attempts == 3 and p.best_score == 100
    return ok
