"""What an operator sees in Flower's own pages (headless Chromium): a failed job's task reads
FAILURE with the job's error, a long job's task reads PROGRESS with its percent, and the tasks
list shows both with the job id and kind as arguments. Screenshots land in the test logs."""
from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.integration.ops.test_flower import _flower_state
from tests.support.jobs import enqueue, run_job, wait_job
from tests.support.stack import LOG_DIR, ROOT

SCRIPT = Path(__file__).resolve().parent / "browser" / "flower.mjs"


def _pages(base: str, auth, uuids: list[str]) -> dict:
    if not shutil.which("node") or not (ROOT / "node_modules" / "playwright-core").exists():
        pytest.fail("node and node_modules/playwright-core are needed: run bin/setup", pytrace=False)
    if not (shutil.which("chromium") or Path("/usr/bin/chromium").exists()):
        pytest.fail("chromium is not installed: bin/setup installs Debian's package", pytrace=False)
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    out = subprocess.run(["node", str(SCRIPT), base, auth[0], auth[1], str(LOG_DIR), *uuids],
                         capture_output=True, text=True, timeout=180, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout)


def test_flowers_pages_show_a_failed_and_a_long_running_job_as_they_are(flower, api):
    base, auth = flower
    # Given a job that failed and a long job that is reporting progress
    failed = run_job(api, "ping", {"fail_permanent": True, "echo": "ui"})
    assert failed["state"] == "failed"
    long = enqueue(api, "ping", {"sleep": 60})
    failed_task = _flower_state(base, auth, failed["id"], {"FAILURE"})
    long_task = _flower_state(base, auth, long["id"], {"PROGRESS"})
    try:
        # When an operator opens Flower's tasks list and each task's page
        seen = _pages(base, auth, [failed_task["uuid"], long_task["uuid"]])
    finally:
        api.post(f"/v1/jobs/{long['id']}/cancel")
    assert not seen["errors"], seen["errors"]
    # Then the list shows both tasks, one FAILURE, one PROGRESS (not SUCCESS, not STARTED)
    assert "FAILURE" in seen["list"] and "PROGRESS" in seen["list"], seen["list"][:3000]
    assert "SUCCESS" not in seen["list"]
    # And the failed task's page shows FAILURE, the job it ran, the job's error and where it came from
    page = seen["tasks"][failed_task["uuid"]]
    assert "FAILURE" in page and "ping_failed: ping asked to fail permanently" in page, page[:3000]
    assert f"job={failed['id']} kind=ping" in page and "PermanentError" in page
    # And the long job's page shows PROGRESS with its percent and message
    page = seen["tasks"][long_task["uuid"]]
    assert "PROGRESS" in page and "% slept" in page and f"job={long['id']} kind=ping" in page, page[:3000]
    assert wait_job(api, long["id"], timeout=30)["state"] == "cancelled"
