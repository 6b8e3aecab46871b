"""ffprobe a file into a ``MediaInfo`` and decide whether it is a usable video source."""
from __future__ import annotations

import json
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from domain.jobs.control import UNWATCHED, RunControl
from domain.jobs.errors import PermanentError
from domain.video import process

# demuxers that read still images: a PNG or JPEG is not a video, whatever its "stream" says
IMAGE_FORMATS = ("image2", "png_pipe", "jpeg_pipe", "bmp_pipe", "gif_pipe", "webp_pipe", "tiff_pipe", "svg_pipe")


@dataclass(frozen=True)
class MediaInfo:
    duration: float             # seconds
    width: int                  # as displayed (sample aspect ratio and rotation applied)
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
    sar: Fraction = Fraction(1)           # sample (pixel) aspect ratio of the coded picture
    interlaced: bool = False              # field_order tt/bb/tb/bt
    max_fps: float = 0.0                  # the stream's base rate (r_frame_rate): its fastest frames
    video_duration: float = 0.0           # from the video stream (0: unknown)
    audio_duration: float = 0.0

    @property
    def last_frame_time(self) -> float:
        """A time at or before the last video frame's start: later than it, a seek finds no frame.
        The margin is one and a half frames at the average rate (a VFR clip's last frame may be long)."""
        video = self.video_duration or self.duration
        return max(0.0, video - 1.5 / (self.fps or 25.0))

    @property
    def portrait(self) -> bool:
        return self.height > self.width


def ffprobe_json(path: Path | str, *, ffprobe_bin: str = "ffprobe", timeout: float = 60.0,
                 control: RunControl = UNWATCHED) -> dict:
    argv = [ffprobe_bin, "-v", "error", "-print_format", "json", "-show_format", "-show_streams",
            "-show_entries", "stream_side_data", str(path)]
    done = process.run(argv, timeout=timeout, control=control, capture_stdout=True)
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


def _stream_duration(stream: dict) -> float:
    """A stream's own duration; Matroska keeps it in a ``DURATION`` tag (HH:MM:SS.nnnnnnnnn)."""
    value = _float(stream.get("duration"))
    if value > 0:
        return value
    tag = (stream.get("tags") or {}).get("DURATION") or (stream.get("tags") or {}).get("duration") or ""
    parts = tag.split(":")
    if len(parts) == 3:
        return int(_float(parts[0])) * 3600 + int(_float(parts[1])) * 60 + _float(parts[2])
    return 0.0


def _sar(stream: dict) -> Fraction:
    try:
        value = Fraction((stream.get("sample_aspect_ratio") or "1:1").replace(":", "/"))
    except (ValueError, ZeroDivisionError):
        return Fraction(1)
    return value if Fraction(1, 8) <= value <= 8 else Fraction(1)    # 0:1 is "unknown"


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
    # the playable length is that of the picture and the sound: a longer subtitle or data
    # track makes the container's duration too long
    video_duration = _stream_duration(v)
    audio_duration = _stream_duration(audios[0]) if audios else 0.0
    duration = max(video_duration, audio_duration) or _float(fmt.get("duration"))
    if duration <= 0:
        raise PermanentError("the video has zero or unknown duration", code="zero_duration")
    cw, ch = int(v.get("width") or 0), int(v.get("height") or 0)
    if cw <= 0 or ch <= 0:
        raise PermanentError("the video stream has no picture size", code="corrupt_source")
    rotation = _rotation(v)
    sar = _sar(v)
    dw, dh = (round(cw * sar), ch) if sar >= 1 else (cw, round(ch / sar))   # never drop coded pixels
    w, h = (dh, dw) if rotation in (90, 270) else (dw, dh)
    fps = _rate(v.get("avg_frame_rate")) or _rate(v.get("r_frame_rate")) or 25.0
    max_fps = max(fps, _rate(v.get("r_frame_rate")) if _rate(v.get("r_frame_rate")) <= 4 * fps else fps)
    size = int(fmt["size"]) if str(fmt.get("size", "")).isdigit() else None
    bit_rate = int(fmt["bit_rate"]) if str(fmt.get("bit_rate", "")).isdigit() else None
    return MediaInfo(duration=duration, width=w, height=h, coded_width=cw, coded_height=ch, rotation=rotation,
                     fps=fps, pix_fmt=v.get("pix_fmt", ""), video_codec=v.get("codec_name", ""),
                     has_audio=bool(audios), audio_codec=audios[0].get("codec_name") if audios else None,
                     bit_rate=bit_rate, format_name=format_name, size_bytes=size, raw=data, sar=sar,
                     interlaced=v.get("field_order") in ("tt", "bb", "tb", "bt"), max_fps=max_fps,
                     video_duration=video_duration, audio_duration=audio_duration)


def check_limits(info: MediaInfo, *, max_duration: float, max_bytes: int) -> None:
    if info.duration > max_duration:
        raise PermanentError(f"the video lasts {info.duration:.0f}s, over the {max_duration:.0f}s limit",
                             code="too_long")
    if info.size_bytes is not None and info.size_bytes > max_bytes:
        raise PermanentError(f"the video has {info.size_bytes} bytes, over the {max_bytes} byte limit",
                             code="too_large")


def probe_source(path: Path, *, ffprobe_bin: str, timeout: float, max_duration: float, max_bytes: int,
                 control: RunControl = UNWATCHED) -> MediaInfo:
    """Probe and validate an uploaded source; every rejection is a PermanentError."""
    size = path.stat().st_size
    if size == 0:
        raise PermanentError("the uploaded file is empty", code="not_video")
    if size > max_bytes:
        raise PermanentError(f"the video has {size} bytes, over the {max_bytes} byte limit", code="too_large")
    try:
        data = ffprobe_json(path, ffprobe_bin=ffprobe_bin, timeout=timeout, control=control)
    except process.ProcessFailed as exc:
        raise PermanentError("ffprobe could not read the file: it is corrupt or not a media file",
                             code="corrupt_source", details=[{"field": "source", "message": exc.stderr_tail[-1500:]}]
                             ) from exc
    info = parse(data)
    check_limits(info, max_duration=max_duration, max_bytes=max_bytes)
    check_complete(path, info, ffprobe_bin=ffprobe_bin, timeout=timeout, control=control)
    return info


TAIL_SECONDS = 4.0


def stream_ends(path: Path, start: float, *, ffprobe_bin: str, timeout: float,
                control: RunControl = UNWATCHED) -> dict[int, float]:
    """The end time of the last packet each stream has from ``start`` on (demuxing only)."""
    argv = [ffprobe_bin, "-v", "error", "-read_intervals", f"{start:.3f}%", "-show_entries",
            "packet=stream_index,pts_time,dts_time,duration_time", "-of", "csv=p=0", str(path)]
    try:
        done = process.run(argv, timeout=timeout, control=control, capture_stdout=True)
    except process.ProcessFailed:
        return {}
    ends: dict[int, float] = {}
    for line in done.stdout.splitlines():
        parts = line.split(",")
        if len(parts) < 4 or not parts[0].isdigit():
            continue
        at = _float(parts[1]) or _float(parts[2])
        ends[int(parts[0])] = max(ends.get(int(parts[0]), 0.0), at + _float(parts[3]))
    return ends


def check_complete(path: Path, info: MediaInfo, *, ffprobe_bin: str, timeout: float,
                   control: RunControl = UNWATCHED) -> None:
    """Refuse a source whose packets stop before its header says its picture or sound ends (an
    upload cut short, a file whose index promises more than it holds), before any encoding.
    Reads the packets of the last few seconds only."""
    streams = info.raw.get("streams") or []
    wanted = {}
    for kind, declared in (("video", info.video_duration), ("audio", info.audio_duration)):
        index = next((int(s["index"]) for s in streams if s.get("codec_type") == kind
                      and not (s.get("disposition") or {}).get("attached_pic")), None)
        if index is not None and declared > 0:
            wanted[kind] = (index, declared)
    if not wanted:
        return
    # packet times count from the container's start time (an MPEG-TS may start at 10 s or more)
    origin = _float((info.raw.get("format") or {}).get("start_time"))
    start = max(0.0, origin + min(d for _, d in wanted.values()) - TAIL_SECONDS)
    ends = {i: end - origin for i, end in
            stream_ends(path, start, ffprobe_bin=ffprobe_bin, timeout=timeout, control=control).items()}
    problems = []
    for kind, (index, declared) in wanted.items():
        tolerance = max(0.5, 0.02 * declared)
        end = ends.get(index)
        if end is None:
            problems.append(f"its header announces {declared:.2f} s of {kind} but no {kind} packet can be read "
                            f"after {start - origin:.2f} s")
        elif end < declared - tolerance:
            problems.append(f"its header announces {declared:.2f} s of {kind} but the {kind} stops at {end:.2f} s")
    if problems:
        raise PermanentError("the source is truncated or inconsistent (an upload cut short?): "
                             + "; ".join(problems), code="corrupt_source",
                             details=[{"field": "source", "message": p} for p in problems])
