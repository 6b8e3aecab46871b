"""`coursework video ...` subcommands and the video family's demo step.

    coursework video sample OUT.mp4 [--seconds 3 --size 640x360 --no-audio --rotate 90]
    coursework video probe FILE        # what ffprobe sees, the planned ladder, the ffmpeg command
    coursework video show ASSET_ID     # an asset and its renditions from the database
"""
from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path


def _settings():
    from celeryconfig import settings

    return settings


def cmd_video(args) -> int:
    from domain.video import commands, ladder, probe
    from domain.video.samples import make_sample

    settings = _settings()
    if args.action == "sample":
        w, h = (int(v) for v in args.size.lower().split("x"))
        path = make_sample(Path(args.target), seconds=args.seconds, width=w, height=h, audio=not args.no_audio,
                           rotate=args.rotate, ffmpeg_bin=settings.ffmpeg_bin)
        print(f"wrote {path} ({path.stat().st_size} bytes)")
        return 0
    if args.action == "probe":
        try:
            info = probe.probe_source(Path(args.target), ffprobe_bin=settings.ffprobe_bin,
                                      timeout=settings.video_probe_timeout,
                                      max_duration=settings.video_max_duration_seconds,
                                      max_bytes=settings.video_max_bytes)
        except Exception as exc:  # a PermanentError says why the file would be refused
            print(f"refused: {getattr(exc, 'code', type(exc).__name__)}: {exc}", file=sys.stderr)
            return 1
        rungs = [int(x) for x in settings.video_ladder.split(",")]
        plan = ladder.plan(info.width, info.height, info.fps, rungs)
        print(json.dumps({"duration": info.duration, "display": f"{info.width}x{info.height}",
                          "rotation": info.rotation, "fps": info.fps, "pix_fmt": info.pix_fmt,
                          "has_audio": info.has_audio,
                          "ladder": [r.__dict__ for r in plan]}, indent=2))
        argv = commands.encode_argv(Path(args.target), Path("out"), info, plan,
                                    commands.EncodeOptions(settings.video_segment_seconds, settings.video_preset),
                                    settings.ffmpeg_bin)
        print(shlex.join(argv))
        return 0
    from domain.db import session_factory
    from domain.video import assets

    with session_factory(settings.database_url)() as session:
        asset = assets.get(session, args.target)
        if asset is None:
            print(f"no video asset {args.target}", file=sys.stderr)
            return 1
        print(json.dumps(assets.to_dict(asset), indent=2, default=str))
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser("video", help="make a sample clip, probe a file, show an asset")
    p.add_argument("action", choices=["sample", "probe", "show"],
                   help="sample: make a test clip; probe: what ffprobe sees in a file; show: an asset")
    p.add_argument("target", help="output file (sample), input file (probe) or asset id (show)")
    p.add_argument("--seconds", type=float, default=3.0, help="sample clip length (default 3)")
    p.add_argument("--size", default="640x360", help="sample clip WIDTHxHEIGHT (default 640x360)")
    p.add_argument("--no-audio", action="store_true", help="sample clip without an audio track")
    p.add_argument("--rotate", type=int, default=None, help="sample clip rotation metadata in degrees (90, 180, 270)")
    p.set_defaults(fn=cmd_video)


def demo(d) -> bool:
    """A lesson gets a 4 s clip: upload URL, PUT, transcode (360p/240p + audio, CMAF), a learner's
    signed playback URLs."""
    import httpx

    from domain.core.models import Course, Lesson, LessonType, Module
    from domain.db import unit_of_work
    from domain.video import hls
    from domain.video.samples import make_sample

    source = make_sample(d.state_dir / "tmp" / "lesson-1.mp4", seconds=4, width=640, height=360)
    with unit_of_work(d.db_url) as s:
        course = Course(slug="video-demo", title="Filming for teachers")
        module = Module(course=course, title="Week 1", position=1)
        lesson = Lesson(module=module, title="Welcome", position=1, type=LessonType.video)
        s.add_all([course, module, lesson])
        s.flush()
        lesson_id = lesson.id
    created = d.client.request("POST", "/v1/videos", json={
        "lesson_id": lesson_id, "filename": source.name, "content_type": "video/mp4",
        "size_bytes": source.stat().st_size})
    asset_id = created["asset"]["id"]
    put = httpx.put(created["upload"]["url"], content=source.read_bytes(), headers=created["upload"]["headers"],
                    timeout=60)
    d.say(f"asset {asset_id}: uploaded {source.stat().st_size} bytes to the presigned URL ({put.status_code})")
    job = d.client.request("POST", f"/v1/videos/{asset_id}/transcode",
                           json={"ladder": [360, 240], "segment_seconds": 2, "thumbnail_interval": 1})["job"]
    job = d.client.wait(job["id"], timeout=180)
    d.say(f"transcode {job['state']} attempts={job['attempts']}")
    if job["state"] != "succeeded":
        d.say(f"error: {json.dumps(job.get('error', {}).get('message'))[:300]}")
        return False
    view = d.client.request("GET", f"/v1/videos/{asset_id}")
    for r in view["asset"]["renditions"]:
        size = f"{r['width']}x{r['height']}" if r["width"] else "audio only"
        d.say(f"  {r['name']:>6} {size:>11} {r['bandwidth'] / 1000:7.0f} kbit/s peak  {r['codecs']:<24} "
              f"{r['segments']} segments")
    urls = d.client.request("POST", f"/v1/videos/{asset_id}/playback", json={"learner_id": "demo-learner"})
    master = httpx.get(urls["hls_url"], timeout=30).text
    mpd = httpx.get(urls["dash_url"], timeout=30)
    d.say(f"HLS master ({len(hls.parse_master(master))} variants) and DASH MPD ({mpd.status_code}) for one learner, "
          f"version {urls['version']}: {urls['hls_url'][:70]}...")
    d.say(f"poster, sprite + WebVTT: {view['asset']['poster_key']}, {view['asset']['thumbnails_vtt_key']}")
    return view["asset"]["status"] == "ready"
