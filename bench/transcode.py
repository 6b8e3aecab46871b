"""Benchmark: one transcode job end to end vs the same ffmpeg commands run directly, same run,
and what packaging CMAF for both HLS and DASH costs on top.

    .venv/bin/python bench/transcode.py [--seconds 60] [--size 1920x1080]

Generates a clip with lavfi (testsrc2 + sine), then
  1. direct (before and after the job): runs the job's own ffmpeg argv lists (the ladder encode
     to CMAF + poster/sprite) with subprocess.run, nothing else;
  2. job: a real stack on the embedded defaults (SQLite, local-folder storage, a private
     redis-server, one worker on the video queue, the HTTP intake): POST the transcode, wait
     until it succeeded (download, probe and the truncation check, encode, ffprobe checks,
     packaging, thumbnails, uploads and their check, the version switch);
  3. packaging: the job's packaging step (read every fragment's boxes, write the HLS master,
     the I-frame playlists and the DASH MPD) run in this process on the direct run's output;
and prints the times, the CPU ratio job / direct (goal <= 1.05), and packaging's CPU as a share
of the encode's. Wall time depends on whatever else the machine runs; the CPU seconds (ffmpeg +
worker + intake process trees vs the direct ffmpeg children) give a ratio that load from
others does not skew.
"""
from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
IDLE_SECONDS = 10.0
TERMINAL_EVENTS = {"job.succeeded", "job.failed", "job.dead_lettered", "job.cancelled"}
sys.path.insert(0, str(ROOT))

from bench import proc  # noqa: E402


def children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def direct_run(source: Path, work: Path, settings) -> tuple[float, float, list[dict], float]:
    from domain.video import commands, ladder, probe

    info = probe.probe_source(source, ffprobe_bin=settings.ffprobe_bin, timeout=120,
                              max_duration=settings.video_max_duration_seconds, max_bytes=settings.video_max_bytes)
    plan = ladder.plan(info.width, info.height, info.fps, [int(h) for h in settings.video_ladder.split(",")])
    (work / "thumbs").mkdir(parents=True)
    encode = commands.encode_argv(source, work / "cmaf", info, plan,
                                  commands.EncodeOptions(settings.video_segment_seconds, settings.video_preset),
                                  settings.ffmpeg_bin)
    thumbs = commands.thumbnails_argv(source, work / "thumbs", info,
                                      commands.sprite_grid(info, settings.video_thumbnail_interval), settings.ffmpeg_bin)
    started, cpu = time.perf_counter(), children_cpu()
    subprocess.run(encode, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    encode_cpu = children_cpu() - cpu
    subprocess.run(thumbs, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    renditions = [{"name": r.name, "kind": "video", "width": r.width, "height": r.height, "codecs": "avc1.640028",
                   "frame_rate": ladder.output_fps(info.max_fps)} for r in plan]
    if info.has_audio:
        renditions.append({"name": commands.AUDIO_NAME, "kind": "audio", "codecs": "mp4a.40.2"})
    return time.perf_counter() - started, children_cpu() - cpu, renditions, encode_cpu


def packaging_run(work: Path, renditions: list[dict], duration: float) -> tuple[float, int, int]:
    """CPU seconds of the packaging step on an encoded output; segments read, manifest bytes written."""
    from domain.video import package

    started = time.process_time()
    package.write_manifests(work / "cmaf", [dict(r) for r in renditions], duration)
    used = time.process_time() - started
    segments = sum(1 for _ in (work / "cmaf").rglob("*.m4s"))
    written = sum(p.stat().st_size for p in (work / "cmaf").rglob("*") if p.suffix in (".mpd",) or
                  p.name in ("master.m3u8", "iframes.m3u8"))
    return used, segments, written


def job_run(source: Path, state: Path) -> tuple[float, float, dict, float]:
    import httpx

    from cli.services import Child, RedisServer, coursework_argv, free_port, migrate, wait_http, wait_worker_ready
    from domain.core.models import Course, Lesson, LessonType, Module
    from domain.db import unit_of_work
    from domain.jobs import keys
    from intake.client import CourseworkClient

    db_url = f"sqlite:///{state / 'bench.db'}"
    redis = RedisServer().start()
    port = free_port()
    env = {**os.environ, "COURSEWORK_DATABASE_URL": db_url, "COURSEWORK_REDIS_URL": redis.url,
           "COURSEWORK_STORAGE_URL": f"local://{state / 'storage'}", "COURSEWORK_VIDEO_TMP_DIR": str(state / "tmp"),
           "COURSEWORK_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}", "COURSEWORK_RELAY_INTERVAL": "0.5",
           "COURSEWORK_RATE_LIMIT_PER_MINUTE": "0",
           "PYTHONPATH": str(ROOT)}
    children = []
    try:
        migrate(db_url)
        with unit_of_work(db_url) as s:
            _, raw_key = keys.create(s, "bench", ["enqueue", "read"])
            lesson = Lesson(module=Module(course=Course(slug="bench", title="Bench"), title="M", position=1),
                            title="L", position=1, type=LessonType.video)
            s.add(lesson)
            s.flush()
            lesson_id = lesson.id
        worker = Child(coursework_argv("worker", "-Q", "video", "-c", "1"), env, state / "worker.log").start()
        intake = Child(coursework_argv("intake", "--port", str(port)), env, state / "intake.log").start()
        children += [worker, intake]
        wait_http(f"http://127.0.0.1:{port}/healthz", child=intake)
        wait_worker_ready(worker)
        # the stack's standing CPU (relay loop, lease keeper, Celery's own timers) while idle,
        # reported beside the job's so that a slow (loaded) run can be read
        idle_started, idle_cpu = time.perf_counter(), proc.tree_cpu(worker.pid, intake.pid, reaped=True)
        time.sleep(IDLE_SECONDS)
        idle_rate = (proc.tree_cpu(worker.pid, intake.pid, reaped=True) - idle_cpu) / (time.perf_counter() - idle_started)
        client = CourseworkClient(f"http://127.0.0.1:{port}", raw_key, timeout=60)
        created = client.request("POST", "/v1/videos", json={"lesson_id": lesson_id, "filename": source.name,
                                                              "content_type": "video/mp4",
                                                              "size_bytes": source.stat().st_size})
        httpx.put(created["upload"]["url"], content=source.read_bytes(), headers=created["upload"]["headers"],
                  timeout=300).raise_for_status()
        started, cpu = time.perf_counter(), proc.tree_cpu(worker.pid, intake.pid, reaped=True)
        job = client.request("POST", f"/v1/videos/{created['asset']['id']}/transcode", json={})["job"]
        for ev in client.events(job["id"]):          # pushed by the intake (SSE), no polling load
            if ev["type"] in TERMINAL_EVENTS:
                break
        job = client.get(job["id"])
        elapsed, used = time.perf_counter() - started, proc.tree_cpu(worker.pid, intake.pid, reaped=True) - cpu
        if job["state"] != "succeeded":
            raise SystemExit(f"the job ended {job['state']}: {job.get('error')}")
        return elapsed, used, job["result"], idle_rate
    finally:
        for child in reversed(children):
            child.stop()
        redis.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--size", default="1920x1080")
    args = ap.parse_args()
    w, h = (int(v) for v in args.size.split("x"))
    from celeryconfig import settings
    from domain.video.samples import make_sample

    root = Path(tempfile.mkdtemp(prefix="cw-bench-video-"))
    try:
        t0 = time.perf_counter()
        source = make_sample(root / "source.mp4", seconds=args.seconds, width=w, height=h, fps=30, timeout=3600)
        print(f"source: {args.seconds:g} s {w}x{h} 30 fps testsrc2 + sine, {source.stat().st_size / 1e6:.1f} MB "
              f"(generated in {time.perf_counter() - t0:.1f} s)")
        print(f"ladder {settings.video_ladder}, {settings.video_segment_seconds:g} s segments, "
              f"preset {settings.video_preset}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")
        # direct, job, direct again: the baseline is the mean of the two direct runs, so load
        # that other processes put on the machine weighs on both sides alike
        d1, c1, renditions, enc1 = direct_run(source, root / "direct1", settings)
        print(f"direct ffmpeg, run 1   : {d1:8.2f} s wall {c1:8.2f} s CPU   {args.seconds / d1:5.2f}x real time")
        job, job_cpu, result, idle_rate = job_run(source, root / "job")
        print(f"transcode job, e2e     : {job:8.2f} s wall {job_cpu:8.2f} s CPU   {args.seconds / job:5.2f}x real time")
        d2, c2, _, enc2 = direct_run(source, root / "direct2", settings)
        print(f"direct ffmpeg, run 2   : {d2:8.2f} s wall {c2:8.2f} s CPU   {args.seconds / d2:5.2f}x real time")
        direct, direct_cpu = (d1 + d2) / 2, (c1 + c2) / 2
        print(f"ratio job / direct     : {job / direct:8.3f} wall  {job_cpu / direct_cpu:6.3f} CPU   (goal <= 1.05)")
        standing = idle_rate * job
        print(f"stack idle CPU         : {idle_rate * 1000:8.1f} ms/s x {job:.0f} s = {standing:.2f} s CPU; "
              f"job CPU without it / direct = {(job_cpu - standing) / direct_cpu:6.3f}")
        pack, segments, written = packaging_run(root / "direct1", renditions, args.seconds)
        print(f"packaging CMAF for HLS + DASH: {pack * 1000:7.1f} ms CPU for {segments} segments "
              f"({written} bytes of master, I-frame playlists and MPD) = {100 * pack / ((enc1 + enc2) / 2):.3f} % "
              f"of the encode's CPU")
        print("renditions: " + ", ".join(f"{r['name']} {r['average_bandwidth'] / 1000:.0f} kbit/s"
                                         for r in result["renditions"]))
        print(f"load average after     : {os.getloadavg()[0]:.2f}")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
