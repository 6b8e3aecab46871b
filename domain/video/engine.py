"""Transcode one uploaded source into one version of its outputs: download, probe, plan,
encode (CMAF), check, package (HLS + DASH), thumbnail, upload, check the upload.

Every run writes under its own version prefix (``videos/<asset>/v/<version>/``), so no key is
ever written twice and a version being built never mixes with the one being served; the
manifests go up last. Switching the asset to the new version is the caller's one database
update (``domain.video.versions.publish``). The temporary folder is removed on every exit path,
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

from domain.jobs.control import UNWATCHED, RunControl
from domain.jobs.errors import PermanentError, TransientError
from domain.storage import Storage
from domain.video import commands, fmp4, hls, ladder, package, probe, process

SEGMENT_CACHE = "public, max-age=31536000, immutable"
PLAYLIST_CACHE = "public, max-age=60"
IMAGE_CACHE = "public, max-age=86400"
TMP_PREFIX = "cw-video-"
CONTENT_TYPES = {".m3u8": "application/vnd.apple.mpegurl", ".mpd": "application/dash+xml", ".mp4": "video/mp4",
                 ".m4s": "video/iso.segment", ".jpg": "image/jpeg", ".vtt": "text/vtt"}


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
    sprite_max_side: int = commands.SPRITE_MAX_SIDE


Progress = Callable[[float, str], None]


def whole_percents(progress: Progress) -> Progress:
    """Pass on a report only when the whole percentage moves: each one is a database write, an
    event and an SSE message, and ffmpeg reports a few times a second for hours."""
    last = [-1]

    def report(pct: float, msg: str) -> None:
        if int(pct) > last[0]:
            last[0] = int(pct)
            progress(pct, msg)
    return report


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


def _run(argv, cfg: Config, control: RunControl, on_progress=None, timeout: float | None = None) -> None:
    try:
        process.run(argv, timeout=timeout or cfg.timeout, control=control, on_progress=on_progress)
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
                     control: RunControl) -> dict:
    """ffprobe an encoded rendition (never trust the exit code): one track of the planned kind,
    size and pixel format, as long as the source."""
    name = playlist.parent.name
    try:
        data = probe.ffprobe_json(playlist, ffprobe_bin=cfg.ffprobe_bin, timeout=cfg.probe_timeout,
                                  control=control)
    except process.ProcessFailed as exc:
        raise PermanentError(f"output check failed: ffprobe cannot read {name}",
                             code="output_invalid", details=[{"field": "ffprobe", "message": exc.stderr_tail}]) from exc
    streams = data.get("streams") or []
    video = [s for s in streams if s.get("codec_type") == "video"]
    audio = [s for s in streams if s.get("codec_type") == "audio"]
    seconds = float((data.get("format") or {}).get("duration") or 0)
    _check(abs(seconds - source.duration) <= max(1.0, 0.05 * source.duration),
           f"{name} lasts {seconds:.2f}s, the source {source.duration:.2f}s")
    if expect is None:
        _check(len(audio) == 1 and not video, f"the audio track {name} has {len(audio)} audio, {len(video)} video")
        return {"name": name, "kind": "audio", "width": None, "height": None, "codecs": _codecs(playlist)}
    _check(len(video) == 1 and not audio, f"{name} has {len(video)} video and {len(audio)} audio streams")
    v = video[0]
    _check(v.get("codec_name") == "h264", f"{name} codec is {v.get('codec_name')}")
    _check((v.get("width"), v.get("height")) == (expect.width, expect.height),
           f"{name} is {v.get('width')}x{v.get('height')}, planned {expect.width}x{expect.height}")
    _check(v.get("pix_fmt") == "yuv420p", f"{name} pixel format is {v.get('pix_fmt')}")
    _check(v.get("field_order") in (None, "progressive", "unknown"), f"{name} is {v.get('field_order')}")
    return {"name": name, "kind": "video", "width": expect.width, "height": expect.height,
            "codecs": _codecs(playlist),
            "frame_rate": ladder.output_fps(source.max_fps or source.fps), "video_kbps": expect.video_kbps,
            "maxrate_kbps": expect.maxrate_kbps}


def _codecs(playlist: Path) -> str:
    """The codec string from the init segment's sample entry (avcC / esds), exact by construction."""
    try:
        return fmp4.codec_string(playlist.parent / commands.INIT)
    except (OSError, ValueError, IndexError) as exc:
        raise PermanentError(f"output check failed: {playlist.parent.name}/{commands.INIT}: {exc}",
                             code="output_invalid") from exc


def _image_size(path: Path) -> tuple[int, int]:
    if not path.is_file() or path.stat().st_size == 0:
        raise PermanentError(f"output check failed: {path.name} was not written", code="output_invalid")
    with Image.open(path) as img:
        img.verify()
        return img.size


def transcode(storage: Storage, asset_id: str, source_key: str, cfg: Config, *, prefix: str,
              control: RunControl = UNWATCHED) -> dict:
    """Write one version of the asset's outputs under ``prefix`` (ending in ``/``); returns the result."""
    sweep_stale_tmp(cfg.tmp_dir)
    if cfg.tmp_dir:
        Path(cfg.tmp_dir).mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f"{TMP_PREFIX}{os.getpid()}-", dir=cfg.tmp_dir) as tmp:
        job = _Job(storage, cfg, Path(tmp), control)
        info = job.fetch_and_probe(source_key)
        plan = ladder.plan(info.width, info.height, info.fps, cfg.rungs)
        checked = job.encode(info, plan)
        manifests = package.write_manifests(job.cmaf, checked, info.duration)
        job.progress(84, "packaged: HLS and DASH manifests written")
        grid, poster_size = job.thumbnails(info)
        job.upload(prefix, grid)
        job.check_upload(prefix)
        job.progress(99, "uploaded and checked")
    for r in checked:
        r["playlist_key"] = f"{prefix}cmaf/{r['name']}/{commands.PLAYLIST}"
    return {
        "asset_id": asset_id, "prefix": prefix, "duration": round(info.duration, 3),
        "width": info.width, "height": info.height,
        "source": {"width": info.width, "height": info.height, "coded_width": info.coded_width,
                   "coded_height": info.coded_height, "sample_aspect_ratio": str(info.sar),
                   "rotation": info.rotation, "fps": round(info.fps, 3), "max_fps": round(info.max_fps, 3),
                   "interlaced": info.interlaced, "pix_fmt": info.pix_fmt, "video_codec": info.video_codec,
                   "has_audio": info.has_audio, "size_bytes": info.size_bytes},
        "master_key": f"{prefix}cmaf/{manifests['master']}", "mpd_key": f"{prefix}cmaf/{manifests['mpd']}",
        "poster_key": f"{prefix}thumbs/poster.jpg", "poster_size": list(poster_size),
        "sprite_key": f"{prefix}thumbs/{grid.sheet_name(0)}",
        "sprite_keys": [f"{prefix}thumbs/{grid.sheet_name(i)}" for i in range(grid.sheets)],
        "thumbnails_vtt_key": f"{prefix}thumbs/thumbnails.vtt",
        "sprite": {"columns": grid.columns, "rows": grid.rows, "sheets": grid.sheets, "tile_width": grid.tile_width,
                   "tile_height": grid.tile_height, "interval": grid.interval, "count": grid.count},
        "segment_seconds": cfg.segment_seconds, "renditions": checked,
    }


class _Job:
    """The steps of one transcode, sharing its storage, settings, folder and run control."""

    def __init__(self, storage: Storage, cfg: Config, tmp: Path, control: RunControl):
        self.storage, self.cfg, self.tmp, self.control = storage, cfg, tmp, control
        self.progress = whole_percents(control.progress)
        self.source = tmp / "source"
        self.cmaf = tmp / "out" / "cmaf"
        self.thumbs = tmp / "out" / "thumbs"

    def fetch_and_probe(self, source_key: str) -> probe.MediaInfo:
        """Download the source and refuse, before any encoding, what cannot be transcoded right."""
        cfg = self.cfg
        if not self.storage.exists(source_key):
            raise PermanentError(f"the source {source_key!r} has not been uploaded", code="source_missing")
        size = self.storage.size(source_key)
        if size > cfg.max_bytes:
            raise PermanentError(f"the video has {size} bytes, over the {cfg.max_bytes} byte limit", code="too_large")
        self.storage.download(source_key, self.source)
        self.progress(2, "downloaded the source")
        try:
            return probe.probe_source(self.source, ffprobe_bin=cfg.ffprobe_bin, timeout=cfg.probe_timeout,
                                      max_duration=cfg.max_duration, max_bytes=cfg.max_bytes, control=self.control)
        except process.ProcessTimeout as exc:
            raise PermanentError(str(exc), code="ffprobe_timeout") from exc

    def encode(self, info: probe.MediaInfo, plan: list[ladder.Rendition]) -> list[dict]:
        """Every rendition and the audio track in one ffmpeg run, then each checked with ffprobe."""
        cfg = self.cfg
        self.progress(5, f"{info.width}x{info.height} {info.duration:.1f}s: encoding {', '.join(r.name for r in plan)}"
                         + (" + audio" if info.has_audio else ""))
        argv = commands.encode_argv(self.source, self.cmaf, info, plan,
                                    commands.EncodeOptions(segment_seconds=cfg.segment_seconds, preset=cfg.preset),
                                    ffmpeg_bin=cfg.ffmpeg_bin)

        def on_encode(block: dict) -> None:
            done = process.out_time_seconds(block)
            if done is not None:
                self.progress(5 + 75 * min(1.0, done / info.duration), f"encoding {done:.0f}/{info.duration:.0f}s")

        _run(argv, cfg, self.control, on_encode)
        self.control.check_cancelled()
        todo = [(r.name, r) for r in plan] + ([(commands.AUDIO_NAME, None)] if info.has_audio else [])
        with ThreadPoolExecutor(max_workers=4) as pool:   # one ffprobe each, side by side
            checked = list(pool.map(lambda t: verify_rendition(self.cmaf / t[0] / commands.PLAYLIST, cfg, info, t[1],
                                                               self.control), todo))
        self.progress(82, "renditions checked")
        return checked

    def thumbnails(self, info: probe.MediaInfo) -> tuple[commands.SpriteGrid, tuple[int, int]]:
        """Poster, sprite sheets (split when one would be too large) and their WebVTT."""
        self.thumbs.mkdir(parents=True)
        grid = commands.sprite_grid(info, self.cfg.thumbnail_interval, max_side=self.cfg.sprite_max_side)
        _run(commands.thumbnails_argv(self.source, self.thumbs, info, grid, ffmpeg_bin=self.cfg.ffmpeg_bin),
             self.cfg, self.control)
        for sheet in range(grid.sheets):
            _check(_image_size(self.thumbs / grid.sheet_name(sheet)) == (grid.width, grid.height),
                   f"sprite sheet {sheet} is not {grid.width}x{grid.height}")
        _check(not (self.thumbs / grid.sheet_name(grid.sheets)).exists(), "ffmpeg wrote more sprite sheets than planned")
        poster_size = _image_size(self.thumbs / "poster.jpg")
        (self.thumbs / "thumbnails.vtt").write_text(hls.sprite_vtt(grid, info.duration))
        self.progress(88, "thumbnails made")
        self.control.check_cancelled()
        return grid, poster_size

    def files(self, prefix: str) -> list[tuple[str, Path, str]]:
        """(key, file, Cache-Control) of every output, in upload order: media first, manifests last."""
        out = self.tmp / "out"
        media, playlists, manifests = [], [], []
        for p in sorted(out.rglob("*")):
            if not p.is_file():
                continue
            key = prefix + p.relative_to(out).as_posix()
            if p.parent == self.cmaf:
                manifests.append((key, p, PLAYLIST_CACHE))
            elif p.suffix == ".m3u8":
                playlists.append((key, p, PLAYLIST_CACHE))
            else:
                media.append((key, p, IMAGE_CACHE if p.parent == self.thumbs else SEGMENT_CACHE))
        return media + playlists + manifests

    def upload(self, prefix: str, grid: commands.SpriteGrid) -> None:
        files = self.files(prefix)
        batches = [[f for f in files if f[2] != PLAYLIST_CACHE], [f for f in files if f[2] == PLAYLIST_CACHE
                                                                    and f[1].parent != self.cmaf],
                   [f for f in files if f[1].parent == self.cmaf]]
        done = 0
        with ThreadPoolExecutor(max_workers=8) as pool:   # what a manifest lists goes up before it
            for batch in batches:
                for fut in as_completed([pool.submit(self.storage.put_file, key, path, cache_control=cache,
                                                     content_type=CONTENT_TYPES.get(path.suffix))
                                         for key, path, cache in batch]):
                    fut.result()
                    done += 1
                    self.progress(88 + 10 * done / len(files), f"uploaded {done}/{len(files)} files")
                self.control.check_cancelled()

    def check_upload(self, prefix: str) -> None:
        """Every file is listed in storage, and the manifests have their sizes, before the version
        may be switched to (one listing, plus a HEAD per manifest: not one per segment)."""
        stored = set(self.storage.list(prefix))
        for key, path, _ in self.files(prefix):
            if key not in stored or (path.parent == self.cmaf and self.storage.size(key) != path.stat().st_size):
                raise TransientError(f"the upload of {key} did not arrive whole", code="upload_incomplete")
