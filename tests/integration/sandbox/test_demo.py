"""`coursework demo --only sandbox` on the embedded defaults (SQLite, local storage, real worker)."""
from __future__ import annotations

import subprocess
import sys

import pytest

from cli.services import ROOT
from tests.support import sessions


@pytest.mark.slow   # ~15 s idle (migrations, a worker and an intake of its own); the flow is covered by test_flow
def test_the_sandbox_demo_grades_three_submissions(tmp_path, redis_server):
    # Given a fresh folder and only the embedded defaults
    # (a Redis database number of its own, so the session's shared worker never takes its jobs, and
    # this session's sandbox uids and folder)
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PYTHONPATH": str(ROOT),
           "COURSEWORK_REDIS_URL": redis_server.url.rsplit("/", 1)[0] + "/12", **sessions.env()}
    # When the sandbox family's demo runs
    out = subprocess.run([sys.executable, "-m", "cli.main", "demo", "--only", "sandbox"], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=300)
    # Then its three submissions were graded as expected and progress moved
    assert out.returncode == 0, out.stdout + out.stderr
    assert "verdict WA, score 25" in out.stdout
    assert "verdict TLE, score 0" in out.stdout
    assert "verdict AC, score 100" in out.stdout
    assert "progress: attempts=3 best_score=100 completed=True" in out.stdout
