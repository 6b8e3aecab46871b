"""Plan the rendition ladder from the source: never upscale, keep the aspect ratio, even sizes.

A rung is named after the short side ("720p" is 1280x720 for landscape, 720x1280 for portrait),
so a phone video gets the same quality steps as a landscape one.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

# video kbit/s for the usual rungs (close to Apple's HLS authoring spec for 30 fps H.264)
BITRATES_KBPS = {2160: 16000, 1440: 9000, 1080: 5000, 720: 2800, 480: 1400, 360: 800, 240: 400, 144: 200}
AUDIO_KBPS = 128
MAX_FPS = 60.0


@dataclass(frozen=True)
class Rendition:
    name: str            # "720p"
    width: int
    height: int
    video_kbps: int
    maxrate_kbps: int
    bufsize_kbps: int


def even(value: float) -> int:
    """Nearest even integer, at least 2 (H.264 with yuv420p needs even sizes)."""
    return max(2, math.floor(value / 2.0 + 0.5) * 2)


def video_kbps(short_side: int, fps: float) -> int:
    if short_side in BITRATES_KBPS:
        base = BITRATES_KBPS[short_side]
    else:  # scale with the pixel count from the 720p rung
        base = max(150, int(BITRATES_KBPS[720] * (short_side / 720) ** 2))
    if fps > 31:   # high frame rate: about half as much again
        base = int(base * 1.5)
    return base


def plan(width: int, height: int, fps: float, rungs: list[int]) -> list[Rendition]:
    """Renditions for a ``width`` x ``height`` source (display size), best first.

    Rungs above the source's short side are dropped (no upscaling); when every rung is above
    it, the source's own size is the one rendition.
    """
    if width <= 0 or height <= 0:
        raise ValueError("the source has no size")
    short, long_ = min(width, height), max(width, height)
    aspect = long_ / short
    wanted = sorted({r for r in rungs if 0 < r <= short}, reverse=True) or [short]
    out: list[Rendition] = []
    seen: set[tuple[int, int]] = set()
    for rung in wanted:
        s = even(rung)
        l_ = even(s * aspect)
        s, l_ = min(s, short // 2 * 2), min(l_, long_ // 2 * 2)   # rounding must not upscale either
        w, h = (s, l_) if height > width else (l_, s)
        if (w, h) in seen:
            continue
        seen.add((w, h))
        kbps = video_kbps(rung, min(fps, MAX_FPS))
        out.append(Rendition(name=f"{rung}p", width=w, height=h, video_kbps=kbps,
                             maxrate_kbps=int(kbps * 1.07), bufsize_kbps=int(kbps * 1.5)))
    return out


def output_fps(source_fps: float) -> float:
    """A constant output rate: the source's, capped at 60, rounded to 3 decimals (29.97 stays)."""
    fps = source_fps if source_fps > 0 else 25.0
    return round(min(fps, MAX_FPS), 3)


def gop_frames(fps: float, segment_seconds: float) -> int:
    """Keyframe interval in frames: one GOP per ~2 s, dividing the segment length evenly."""
    return max(1, int(round(fps * min(2.0, segment_seconds))))
