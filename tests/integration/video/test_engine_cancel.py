"""Cancelling a transcode stops ffmpeg and leaves no temporary files and no published asset."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from domain.jobs.errors import JobCancelled
from domain.video import engine
from domain.video.samples import make_sample

from tests.support.control import RecordingControl


def ffmpeg_processes_using(folder: Path) -> list[int]:
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if "ffmpeg" in cmd and str(folder) in cmd:
            found.append(int(pid))
    return found


def test_cancel_while_encoding_kills_ffmpeg_and_cleans_temp(tmp_path, upload, s3, small_config):
    # Given a 20 s 640x360 source, long enough to be caught mid-encode
    source = make_sample(tmp_path / "long.mp4", seconds=20, width=640, height=360)
    asset_id, key = upload(source)
    work = Path(small_config.tmp_dir)
    seen_running: list[list[int]] = []

    def cancel_mid_encode(pct: float, msg: str) -> bool:
        if msg.startswith("encoding") and pct > 6 and not seen_running:
            seen_running.append(ffmpeg_processes_using(work))
        return bool(seen_running)

    # When the job is cancelled while ffmpeg runs
    with pytest.raises(JobCancelled):
        engine.transcode(s3, asset_id, key, small_config, prefix=f"videos/{asset_id}/v/1/",
                         control=RecordingControl(cancel_when=cancel_mid_encode))
    # Then ffmpeg was running and is gone, the temp folder is empty, and nothing was published
    assert seen_running and seen_running[0], "ffmpeg was not seen running"
    assert ffmpeg_processes_using(work) == []
    assert list(work.iterdir()) == []
    assert s3.list(f"videos/{asset_id}/") == [key]


def test_temp_folders_of_dead_workers_are_swept(video_sources, upload, s3, small_config):
    # Given a temp folder left by a worker process that no longer exists
    work = Path(small_config.tmp_dir)
    stale = work / f"{engine.TMP_PREFIX}999999999-abc"
    (stale / "out").mkdir(parents=True)
    (stale / "source").write_bytes(b"x" * 1000)
    live = work / f"{engine.TMP_PREFIX}{os.getpid()}-mine"
    live.mkdir()
    # When the next transcode starts
    asset_id, key = upload(video_sources["normal"])
    engine.transcode(s3, asset_id, key, engine.Config(**{**small_config.__dict__, "rungs": [120]}),
                     prefix=f"videos/{asset_id}/v/1/")
    # Then the dead worker's folder is gone, a live process's folder is kept, and the job left nothing
    assert sorted(p.name for p in work.iterdir()) == [live.name]
