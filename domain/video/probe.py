"""ffprobe a file into a ``MediaInfo`` and decide whether it is a usable video source."""
from __future__ import annotations

import json
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Callable

from domain.jobs.errors import PermanentError
from domain.video import process

# demuxers that read still images: a PNG or JPEG is not a video, whatever its "stream" says
IMAGE_FORMATS = ("image2", "png_pipe", "jpeg_pipe", "bmp_pipe", "gif_pipe", "webp_pipe", "tiff_pipe", "svg_pipe")


@dataclass(frozen=True)
class MediaInfo:
    duration: float             # seconds
    width: int                  # as displayed (rotation applied)
    height: int
    coded_width: int
    coded_height: int
    rotation: int               # degrees, 0/90/180/270
    fps: float                  # average frame rate
    pix_fmt: str
    video_codec: str
    has_audio: bool
    audio_codec: str | None
    bit_rate: int | None
    format_name: str
    size_bytes: int | None
    raw: dict

    @property
    def portrait(self) -> bool:
        return self.height > self.width


def ffprobe_json(path: Path | str, *, ffprobe_bin: str = "ffprobe", timeout: float = 60.0,
                 cancelled: Callable[[], bool] = lambda: False) -> dict:
    argv = [ffprobe_bin, "-v", "error", "-print_format", "json", "-show_format", "-show_streams",
            "-show_entries", "stream_side_data", str(path)]
    done = process.run(argv, timeout=timeout, cancelled=cancelled, capture_stdout=True)
    return json.loads(done.stdout or "{}")


def _rotation(stream: dict) -> int:
    rot = 0
    for side in stream.get("side_data_list", []) or []:
        if "rotation" in side:
            rot = int(float(side["rotation"]))
    if not rot and "rotate" in (stream.get("tags") or {}):
        rot = -int(stream["tags"]["rotate"])   # the old tag counts clockwise, the matrix counter-clockwise
    return rot % 360


def _rate(text: str | None) -> float:
    try:
        value = Fraction(text or "0/1")
    except (ValueError, ZeroDivisionError):
        return 0.0
    return float(value) if value > 0 else 0.0


def _float(value) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


def parse(data: dict) -> MediaInfo:
    """MediaInfo from ffprobe's JSON. Raises PermanentError when there is no usable video."""
    fmt = data.get("format") or {}
    streams = data.get("streams") or []
    format_name = fmt.get("format_name", "")
    videos = [s for s in streams if s.get("codec_type") == "video"
              and not (s.get("disposition") or {}).get("attached_pic")]
    audios = [s for s in streams if s.get("codec_type") == "audio"]
    if not videos or any(f in format_name.split(",") for f in IMAGE_FORMATS):
        raise PermanentError(f"the file is not a video (format {format_name or 'unknown'}, "
                             f"{len(videos)} video stream(s))", code="not_video")
    v = videos[0]
    duration = _float(fmt.get("duration")) or _float(v.get("duration"))
    if duration <= 0:
        raise PermanentError("the video has zero or unknown duration", code="zero_duration")
    cw, ch = int(v.get("width") or 0), int(v.get("height") or 0)
    if cw <= 0 or ch <= 0:
        raise PermanentError("the video stream has no picture size", code="corrupt_source")
    rotation = _rotation(v)
    w, h = (ch, cw) if rotation in (90, 270) else (cw, ch)
    fps = _rate(v.get("avg_frame_rate")) or _rate(v.get("r_frame_rate")) or 25.0
    size = int(fmt["size"]) if str(fmt.get("size", "")).isdigit() else None
    bit_rate = int(fmt["bit_rate"]) if str(fmt.get("bit_rate", "")).isdigit() else None
    return MediaInfo(duration=duration, width=w, height=h, coded_width=cw, coded_height=ch, rotation=rotation,
                     fps=fps, pix_fmt=v.get("pix_fmt", ""), video_codec=v.get("codec_name", ""),
                     has_audio=bool(audios), audio_codec=audios[0].get("codec_name") if audios else None,
                     bit_rate=bit_rate, format_name=format_name, size_bytes=size, raw=data)


def check_limits(info: MediaInfo, *, max_duration: float, max_bytes: int) -> None:
    if info.duration > max_duration:
        raise PermanentError(f"the video lasts {info.duration:.0f}s, over the {max_duration:.0f}s limit",
                             code="too_long")
    if info.size_bytes is not None and info.size_bytes > max_bytes:
        raise PermanentError(f"the video has {info.size_bytes} bytes, over the {max_bytes} byte limit",
                             code="too_large")


def probe_source(path: Path, *, ffprobe_bin: str, timeout: float, max_duration: float, max_bytes: int,
                 cancelled: Callable[[], bool] = lambda: False) -> MediaInfo:
    """Probe and validate an uploaded source; every rejection is a PermanentError."""
    size = path.stat().st_size
    if size == 0:
        raise PermanentError("the uploaded file is empty", code="not_video")
    if size > max_bytes:
        raise PermanentError(f"the video has {size} bytes, over the {max_bytes} byte limit", code="too_large")
    try:
        data = ffprobe_json(path, ffprobe_bin=ffprobe_bin, timeout=timeout, cancelled=cancelled)
    except process.ProcessFailed as exc:
        raise PermanentError("ffprobe could not read the file: it is corrupt or not a media file",
                             code="corrupt_source", details=[{"field": "source", "message": exc.stderr_tail[-1500:]}]
                             ) from exc
    info = parse(data)
    check_limits(info, max_duration=max_duration, max_bytes=max_bytes)
    return info
