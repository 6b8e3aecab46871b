"""The worker as PID 1 of its own PID namespace (as in a container without an init): killed
cases leave no zombie behind, so the slot keeps working; ``coursework sandbox check`` names
processes of a slot that outlived their run."""
from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from cli.services import Child, coursework_argv, wait_worker_ready
from domain.core.models import User
from domain.sandbox import submissions, sweep
from tests.support import sessions
from tests.support.jobs import wait_job
from tests.support.stack import LOG_DIR, Stack, private_redis

# a slot uid of its own (in this session's block): the process limit it counts is this test's only
UID_BASE = sessions.uid_base(sessions.PID1_SLOTS)
FLOOD = "#include <stdio.h>\nint main(){for(;;) fputs(\"flood flood flood flood\\n\", stdout);}\n"
SUM = "#include <stdio.h>\nint main(){long a,b; scanf(\"%ld %ld\",&a,&b); printf(\"%ld\\n\",a+b); return 0;}\n"


@pytest.fixture
def work_dir():
    path = Path(tempfile.mkdtemp(prefix="cw-sandbox-pid1-"))
    os.chmod(path, 0o711)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def pid1_stack(stack, work_dir):
    """An intake and a sandbox worker of their own (private Redis: no other worker takes the jobs);
    the worker is PID 1 of a new PID namespace."""
    redis = private_redis()
    own = Stack(stack.db, redis.url, stack.s3_endpoint, extra_env={
        "COURSEWORK_SANDBOX_WORK_DIR": str(work_dir), "COURSEWORK_SANDBOX_UID_BASE": str(UID_BASE),
        "COURSEWORK_SANDBOX_SLOTS": "1", "COURSEWORK_SANDBOX_MAX_OUTPUT_BYTES": "1024"})
    try:
        own.start_intake()
        name = f"pid1-{secrets.token_hex(3)}"
        worker = Child(["unshare", "--pid", "--fork", "--mount-proc",
                        *coursework_argv("worker", "-Q", "sandbox", "-c", "1", "-P", "prefork", "-n", f"{name}@%h")],
                       own.env(), LOG_DIR / f"worker-{name}.log").start()
        own.children.append(worker)
        wait_worker_ready(worker)
        yield own, worker
    finally:
        own.stop()
        redis.stop()


def _namespace_pid(pid: int) -> list[int]:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("NSpid:"):
            return [int(x) for x in line.split()[1:]]
    return []


def _children(pid: int) -> list[int]:
    return [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit() and _ppid(int(p.name)) == pid]


def _ppid(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("PPid:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def test_a_worker_that_is_pid_1_survives_200_killed_cases(pid1_stack, db):
    own, worker = pid1_stack
    # Given the worker is PID 1 of its own PID namespace (unshare forked it)
    inner = _children(worker.proc.pid)
    assert len(inner) == 1 and _namespace_pid(inner[0])[-1] == 1, "the worker should be PID 1 of its namespace"
    tag = secrets.token_hex(4)
    with db.begin() as s:
        user = User(email=f"pid1-{tag}@example.test", name="Learner")
        s.add(user)
        s.flush()
        ex = submissions.create_exercise(s, title="Sum", languages=["c"], time_limit_ms=2000, memory_limit_mb=64,
                                         cases=[{"stdin": f"{i} {i}\n", "expected_stdout": f"{2 * i}\n"}
                                                for i in range(50)])
        ids = {"exercise_id": ex.id, "user_id": user.id}
    with own.client(own.create_key()) as api:
        # When 4 submissions each flood stdout on 50 cases: 200 cases killed for their output
        for _ in range(4):
            out = api.post("/v1/submissions", json={**ids, "language": "c", "code": FLOOD}).json()
            job = wait_job(api, out["job"]["id"], timeout=600)
            sub = api.get(f"/v1/submissions/{out['submission']['id']}").json()["submission"]
            assert job["state"] == "succeeded", job
            assert [c["verdict"] for c in sub["results"]] == ["OLE"] * 50, sub["results"]
        # Then no process of the slot is left (no zombie runner counts against its process limit)
        assert sweep.uid_processes(UID_BASE) == []
        # And a correct program is still Accepted on every case
        out = api.post("/v1/submissions", json={**ids, "language": "c", "code": SUM}).json()
        assert wait_job(api, out["job"]["id"], timeout=300)["state"] == "succeeded"
        sub = api.get(f"/v1/submissions/{out['submission']['id']}").json()["submission"]
        assert sub["verdict"] == "AC" and sub["score"] == 100, sub


def test_sandbox_check_names_processes_that_outlived_their_run(stack, work_dir):
    # Given a process of slot 0's uid while no run holds slot 0
    uid = UID_BASE + 5
    stray = subprocess.Popen(["sleep", "300"], user=uid, group=uid)
    env = stack.env(COURSEWORK_SANDBOX_WORK_DIR=str(work_dir), COURSEWORK_SANDBOX_UID_BASE=str(uid),
                    COURSEWORK_SANDBOX_SLOTS="1")
    try:
        assert [p.pid for p in sweep.uid_processes(uid)] == [stray.pid]
        # When the host is checked
        out = subprocess.run(coursework_argv("sandbox", "check"), env=env, capture_output=True, text=True,
                             timeout=120)
        # Then the check fails and names it, and says which accounting mode is active
        assert out.returncode == 1, out.stdout + out.stderr
        assert f"slot 0 (uid {uid}): leftover processes: {stray.pid} sleep" in out.stdout
        assert "whole-case limits: " in out.stdout
    finally:
        stray.kill()
        stray.wait()
    # And once it is gone the check passes
    out = subprocess.run(coursework_argv("sandbox", "check"), env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and "leftover processes: none" in out.stdout, out.stdout + out.stderr
