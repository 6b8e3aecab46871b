"""The shipped alert rules are valid Prometheus rules and behave as their unit tests say
(``promtool``, from Debian's ``prometheus`` package, is the oracle)."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

MONITORING = Path(__file__).resolve().parents[3] / "monitoring"


def promtool(*args: str) -> subprocess.CompletedProcess:
    binary = shutil.which("promtool")
    if binary is None:
        pytest.fail("promtool not found: install Debian's 'prometheus' package (bin/setup does)", pytrace=False)
    return subprocess.run([binary, *args], cwd=MONITORING, capture_output=True, text=True, timeout=120)


def test_the_rules_file_is_valid():
    out = promtool("check", "rules", "alerts.yml")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "SUCCESS: 8 rules found" in out.stdout


def test_the_rules_fire_and_stay_quiet_as_their_unit_tests_expect():
    assert (MONITORING / "alerts_test.yml").is_file()
    out = promtool("test", "rules", "alerts_test.yml")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "SUCCESS" in out.stdout
