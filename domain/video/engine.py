"""Transcode one uploaded source: download, probe, plan, encode, verify, thumbnail, publish.

Nothing is uploaded before every output has been checked with ffprobe, and the master
playlist is uploaded last: a crash at any point leaves no master pointing at missing files,
and a rerun writes the same keys again. The temporary folder is removed on every exit path,
and folders left by a killed worker are swept by the next job.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from PIL import Image

from domain.jobs.errors import JobCancelled, PermanentError, TransientError
from domain.storage import Storage
from domain.video import commands, hls, ladder, probe, process
from domain.video.assets import prefix

SEGMENT_CACHE = "public, max-age=31536000, immutable"
PLAYLIST_CACHE = "public, max-age=60"
IMAGE_CACHE = "public, max-age=86400"
TMP_PREFIX = "cw-video-"


@dataclass(frozen=True)
class Config:
    ffmpeg_bin: str = "ffmpeg"
    ffprobe_bin: str = "ffprobe"
    rungs: list[int] = field(default_factory=lambda: [1080, 720, 480, 360])
    segment_seconds: float = 6.0
    thumbnail_interval: float = 10.0
    max_duration: float = 4 * 3600
    max_bytes: int = 10 * 1024**3
    timeout: float = 3 * 3600
    probe_timeout: float = 120.0
    preset: str = "veryfast"
    tmp_dir: str | None = None


Progress = Callable[[float, str], None]


def _no_progress(pct: float, msg: str) -> None:
    pass


def sweep_stale_tmp(root: str | None) -> int:
    """Remove temp folders of processes that no longer exist (a worker killed mid-job)."""
    base = Path(root or tempfile.gettempdir())
    removed = 0
    for d in base.glob(f"{TMP_PREFIX}*"):
        try:
            pid = int(d.name[len(TMP_PREFIX):].split("-", 1)[0])
        except ValueError:
            continue
        try:
            os.kill(pid, 0)
            continue               # still alive: someone is using it
        except ProcessLookupError:
            pass
        except PermissionError:
            continue
        shutil.rmtree(d, ignore_errors=True)
        removed += 1
    return removed


def _run(argv, cfg: Config, cancelled, on_progress=None, timeout: float | None = None) -> None:
    try:
        process.run(argv, timeout=timeout or cfg.timeout, cancelled=cancelled, on_progress=on_progress)
    except process.ProcessCancelled as exc:
        raise JobCancelled("the job was cancelled; ffmpeg was stopped") from exc
    except process.ProcessTimeout as exc:
        raise PermanentError(str(exc), code="ffmpeg_timeout",
                             details=[{"field": "ffmpeg", "message": exc.stderr_tail[-2000:]}]) from exc
    except process.ProcessFailed as exc:
        if exc.returncode is not None and exc.returncode < 0:   # killed from outside (OOM killer...): try again
            raise TransientError(str(exc)[-2000:], code="ffmpeg_killed") from exc
        raise PermanentError(str(exc)[-2000:], code="transcode_failed",
                             details=[{"field": "ffmpeg", "message": exc.stderr_tail[-2000:]}]) from exc


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise PermanentError(f"output check failed: {message}", code="output_invalid")


def verify_rendition(playlist: Path, cfg: Config, source: probe.MediaInfo, expect: ladder.Rendition | None,
                     cancelled) -> dict:
    """ffprobe an encoded rendition (never trust the exit code) and measure its bandwidth."""
    try:
        data = probe.ffprobe_json(playlist, ffprobe_bin=cfg.ffprobe_bin, timeout=cfg.probe_timeout,
                                  cancelled=cancelled)
    except process.ProcessFailed as exc:
        raise PermanentError(f"output check failed: ffprobe cannot read {playlist.parent.name}",
                             code="output_invalid", details=[{"field": "ffprobe", "message": exc.stderr_tail}]) from exc
    streams = data.get("streams") or []
    video = [s for s in streams if s.get("codec_type") == "video"]
    audio = [s for s in streams if s.get("codec_type") == "audio"]
    peak, average, seconds, segments = hls.measure(playlist)
    _check(abs(seconds - source.duration) <= max(1.0, 0.05 * source.duration),
           f"{playlist.parent.name} lasts {seconds:.2f}s, the source {source.duration:.2f}s")
    _check(bool(audio) == source.has_audio, f"{playlist.parent.name}: audio present={bool(audio)}")
    codecs = [hls.AAC_LC] if audio else []
    out = {"name": playlist.parent.name, "segments": len(segments), "duration": round(seconds, 3),
           "bandwidth": peak, "average_bandwidth": average}
    if expect is None:
        _check(not video, "the audio-only rendition has video")
        return {**out, "kind": "audio", "width": None, "height": None, "codecs": ",".join(codecs)}
    _check(len(video) == 1, f"{expect.name} has {len(video)} video streams")
    v = video[0]
    _check(v.get("codec_name") == "h264", f"{expect.name} codec is {v.get('codec_name')}")
    _check((v.get("width"), v.get("height")) == (expect.width, expect.height),
           f"{expect.name} is {v.get('width')}x{v.get('height')}, planned {expect.width}x{expect.height}")
    _check(v.get("pix_fmt") == "yuv420p", f"{expect.name} pixel format is {v.get('pix_fmt')}")
    codecs.insert(0, hls.avc1(v.get("profile", "High"), int(v.get("level") or 40)))
    return {**out, "kind": "video", "width": expect.width, "height": expect.height, "codecs": ",".join(codecs),
            "frame_rate": ladder.output_fps(source.fps), "video_kbps": expect.video_kbps,
            "maxrate_kbps": expect.maxrate_kbps}


def _image_size(path: Path) -> tuple[int, int]:
    if not path.is_file() or path.stat().st_size == 0:
        raise PermanentError(f"output check failed: {path.name} was not written", code="output_invalid")
    with Image.open(path) as img:
        img.verify()
        return img.size


def transcode(storage: Storage, asset_id: str, source_key: str, cfg: Config, *,
              progress: Progress = _no_progress, cancelled: Callable[[], bool] = lambda: False) -> dict:
    sweep_stale_tmp(cfg.tmp_dir)
    if cfg.tmp_dir:
        Path(cfg.tmp_dir).mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f"{TMP_PREFIX}{os.getpid()}-", dir=cfg.tmp_dir) as tmp:
        return _transcode(storage, asset_id, source_key, cfg, Path(tmp), progress, cancelled)


def _stop_if_cancelled(cancelled) -> None:
    if cancelled():
        raise JobCancelled("the job was cancelled")


def _transcode(storage, asset_id, source_key, cfg, tmp: Path, progress: Progress, cancelled) -> dict:
    # 1. fetch and probe the source
    if not storage.exists(source_key):
        raise PermanentError(f"the source {source_key!r} has not been uploaded", code="source_missing")
    size = storage.size(source_key)
    if size > cfg.max_bytes:
        raise PermanentError(f"the video has {size} bytes, over the {cfg.max_bytes} byte limit", code="too_large")
    source = tmp / "source"
    storage.download(source_key, source)
    progress(2, "downloaded the source")
    try:
        info = probe.probe_source(source, ffprobe_bin=cfg.ffprobe_bin, timeout=cfg.probe_timeout,
                                  max_duration=cfg.max_duration, max_bytes=cfg.max_bytes, cancelled=cancelled)
    except process.ProcessCancelled as exc:
        raise JobCancelled("the job was cancelled") from exc
    except process.ProcessTimeout as exc:
        raise PermanentError(str(exc), code="ffprobe_timeout") from exc
    plan = ladder.plan(info.width, info.height, info.fps, cfg.rungs)
    progress(5, f"{info.width}x{info.height} {info.duration:.1f}s: encoding {', '.join(r.name for r in plan)}"
                + (" + audio" if info.has_audio else ""))

    # 2. encode every rendition in one ffmpeg run, progress from -progress pipe:1
    out = tmp / "out"
    hls_dir = out / "hls"
    argv = commands.encode_argv(source, hls_dir, info, plan,
                                commands.EncodeOptions(segment_seconds=cfg.segment_seconds, preset=cfg.preset),
                                ffmpeg_bin=cfg.ffmpeg_bin)

    def on_encode(block: dict) -> None:
        done = process.out_time_seconds(block)
        if done is not None:
            progress(5 + 75 * min(1.0, done / info.duration), f"encoding {done:.0f}/{info.duration:.0f}s")

    _run(argv, cfg, cancelled, on_encode)
    _stop_if_cancelled(cancelled)

    # 3. check the outputs with ffprobe, measure bandwidth
    todo = [(r.name, r) for r in plan] + ([(commands.AUDIO_NAME, None)] if info.has_audio else [])
    with ThreadPoolExecutor(max_workers=4) as pool:   # one ffprobe each, side by side
        checked = list(pool.map(lambda t: verify_rendition(hls_dir / t[0] / commands.PLAYLIST, cfg, info, t[1],
                                                           cancelled), todo))
    progress(82, "renditions checked")

    # 4. poster + sprite sheet + WebVTT
    thumbs = out / "thumbs"
    thumbs.mkdir(parents=True)
    grid = commands.sprite_grid(info, cfg.thumbnail_interval)
    _run(commands.thumbnails_argv(source, thumbs, info, grid, ffmpeg_bin=cfg.ffmpeg_bin), cfg, cancelled)
    _check(_image_size(thumbs / "sprite.jpg") == (grid.width, grid.height),
           f"sprite sheet is not {grid.width}x{grid.height}")
    poster_size = _image_size(thumbs / "poster.jpg")
    (thumbs / "thumbnails.vtt").write_text(hls.sprite_vtt(grid, info.duration, "sprite.jpg"))
    progress(88, "thumbnails made")
    _stop_if_cancelled(cancelled)

    # 5. upload: segments and playlists, thumbnails, and the master playlist last
    base = prefix(asset_id)
    uploaded: set[str] = set()

    def put(key: str, path: Path, cache: str) -> None:
        storage.put_file(key, path, cache_control=cache)
        uploaded.add(key)

    files = [p for p in sorted(hls_dir.rglob("*")) if p.is_file()]
    segments = [(base + p.relative_to(out).as_posix(), p, SEGMENT_CACHE) for p in files if p.suffix != ".m3u8"]
    playlists = [(base + p.relative_to(out).as_posix(), p, PLAYLIST_CACHE) for p in files if p.suffix == ".m3u8"]
    images = [(f"{base}thumbs/{name}", thumbs / name, IMAGE_CACHE)
              for name in ("poster.jpg", "sprite.jpg", "thumbnails.vtt")]
    total, done = len(files) + len(images), 0
    with ThreadPoolExecutor(max_workers=8) as pool:   # segments before the playlists that list them
        for batch in (segments, playlists + images):
            for fut in as_completed([pool.submit(put, *item) for item in batch]):
                fut.result()
                done += 1
                progress(88 + 10 * done / total, f"uploaded {done}/{total} files")
            _stop_if_cancelled(cancelled)
    variants = [hls.Variant(uri=f"{r['name']}/{commands.PLAYLIST}", bandwidth=r["bandwidth"],
                            average_bandwidth=r["average_bandwidth"], codecs=r["codecs"],
                            resolution=(r["width"], r["height"]) if r["kind"] == "video" else None,
                            frame_rate=r.get("frame_rate")) for r in checked]
    master_key = f"{base}hls/master.m3u8"
    _stop_if_cancelled(cancelled)
    storage.put_bytes(master_key, hls.master_playlist(variants).encode(), cache_control=PLAYLIST_CACHE)
    uploaded.add(master_key)
    # outputs of an earlier run that this one no longer produced (a smaller ladder...)
    stale = [k for k in storage.list(base + "hls/") + storage.list(base + "thumbs/") if k not in uploaded]
    for key in stale:
        storage.delete_prefix(key)
    progress(99, "published")
    for r in checked:
        r["playlist_key"] = f"{base}hls/{r['name']}/{commands.PLAYLIST}"
    return {
        "asset_id": asset_id, "duration": round(info.duration, 3), "width": info.width, "height": info.height,
        "source": {"width": info.width, "height": info.height, "rotation": info.rotation, "fps": round(info.fps, 3),
                   "pix_fmt": info.pix_fmt, "video_codec": info.video_codec, "has_audio": info.has_audio,
                   "size_bytes": info.size_bytes},
        "master_key": master_key, "poster_key": f"{base}thumbs/poster.jpg", "poster_size": list(poster_size),
        "sprite_key": f"{base}thumbs/sprite.jpg", "thumbnails_vtt_key": f"{base}thumbs/thumbnails.vtt",
        "sprite": {"columns": grid.columns, "rows": grid.rows, "tile_width": grid.tile_width,
                   "tile_height": grid.tile_height, "interval": grid.interval, "count": grid.count},
        "segment_seconds": cfg.segment_seconds, "renditions": checked, "stale_deleted": len(stale),
    }
