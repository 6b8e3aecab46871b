"""Run code through the real sandbox (bubblewrap + rlimits), without the job stack."""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from domain.sandbox.judge import CaseSpec, Evaluation, JudgeConfig, evaluate

from tests.integration.sandbox.support import BASE_UID, SLOTS


@pytest.fixture(scope="session")
def judge_config():
    # not under pytest's 0700 tmp dir: the unprivileged slot uid must be able to reach the box
    work = Path(tempfile.mkdtemp(prefix="cw-sandbox-test-"))
    os.chmod(work, 0o711)
    yield JudgeConfig(work_dir=work, base_uid=BASE_UID, slots=SLOTS, max_processes=32,
                      max_output_bytes=64 * 1024, max_file_bytes=4 * 1024 * 1024, compile_seconds=20,
                      wall_factor=1.5)
    shutil.rmtree(work, ignore_errors=True)


@pytest.fixture
def judge(judge_config):
    """judge(code, language="python", stdin="", expected="", ...) -> Evaluation with one visible case."""

    # generous CPU limits (and so wall clocks) by default: other test suites share these 2 cores;
    # the time-limit tests pass small limits of their own
    def run(code: str, language: str = "python", stdin: str = "", expected: str = "", time_limit_ms: int = 3000,
            memory_limit_mb: int = 64, comparison: str = "trimmed") -> Evaluation:
        case = CaseSpec(stdin=stdin, expected=expected, comparison=comparison)
        return evaluate(language, code, [case], time_limit_ms=time_limit_ms, memory_limit_mb=memory_limit_mb,
                        config=judge_config)

    return run
