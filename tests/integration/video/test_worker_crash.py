"""A worker killed mid-transcode: nothing half-published, ffmpeg gone, the job completes elsewhere."""
from __future__ import annotations

import os
import signal
import tempfile
from pathlib import Path

import pytest

from domain.video.samples import make_sample
from tests.integration.video.test_api_flow import _progressed, create_and_upload, lesson_id  # noqa: F401 (fixture)
from tests.support.jobs import enqueue, wait_job
from tests.support.stack import wait_for


@pytest.mark.slow
def test_killed_worker_leaves_nothing_half_published_and_the_job_completes(api, stack, lesson_id, tmp_path, s3):  # noqa: F811
    # Given a second worker on the video queue, and a transcode running on one of the workers
    stack.start_worker(queues="video", concurrency=1, name="video-spare")
    source = make_sample(tmp_path / "long.mp4", seconds=20, width=640, height=360)
    asset_id = create_and_upload(api, lesson_id, source)
    job = enqueue(api, "transcode", {"asset_id": asset_id, "ladder": [360, 240]})
    current = wait_for(lambda: _progressed(api, job["id"], 10), timeout=120, message="the transcode under way")
    assert current["state"] == "running", current
    with stack_db(stack) as s:
        from domain.jobs.models import Job
        owner = s.get(Job, job["id"]).lease_owner
    pid = int(owner.split(":")[1])
    ffmpegs = children_named(pid, "ffmpeg")
    assert ffmpegs, "the worker process was not running ffmpeg"
    # When the process running it is killed
    os.kill(pid, signal.SIGKILL)
    # Then its ffmpeg does not outlive it, and no master playlist was published meanwhile
    wait_for(lambda: not [p for p in ffmpegs if Path(f"/proc/{p}").exists() and "Z" not in state_of(p)],
             timeout=10, message="the killed process's ffmpeg to end")
    assert not [k for k in s3.list(f"videos/{asset_id}/") if k.endswith("master.m3u8")]
    # And the job completes on a second attempt, and the dead process's temp folder is swept
    done = wait_job(api, job["id"], timeout=240)
    assert done["state"] == "succeeded" and done["attempts"] == 2, done
    asset = api.get(f"/v1/videos/{asset_id}").json()["asset"]
    assert asset["status"] == "ready" and asset["version"] == 2     # the killed attempt's version is not served
    assert s3.exists(asset["master_key"]) and asset["master_key"].startswith(f"videos/{asset_id}/v/2/")
    assert not list(Path(tempfile.gettempdir()).glob(f"cw-video-{pid}-*"))


def stack_db(stack):
    from domain.db import session_factory

    return session_factory(stack.db_url)()


def state_of(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "gone"


def children_named(ppid: int, name: str) -> list[int]:
    out = []
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        comm, rest = stat.split("(", 1)[1].rsplit(")", 1)
        if comm == name and int(rest.split()[1]) == ppid:
            out.append(int(entry))
    return out
