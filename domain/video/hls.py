"""HLS playlists and the thumbnail WebVTT: write the master, read media playlists back, measure.

``BANDWIDTH`` is the peak segment bit rate and ``AVERAGE-BANDWIDTH`` the mean, both measured
from the segments actually written (RFC 8216 §4.3.4.2), not guessed from encoder settings.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from domain.video.commands import SpriteGrid

AAC_LC = "mp4a.40.2"
_H264_PROFILES = {"baseline": "42", "constrained baseline": "42", "main": "4d", "extended": "58",
                  "high": "64", "high 10": "6e", "high 4:2:2": "7a", "high 4:4:4 predictive": "f4"}
_CONSTRAINTS = {"constrained baseline": "e0"}
_ATTR = re.compile(r'([A-Z0-9-]+)=("[^"]*"|[^,]*)')


@dataclass(frozen=True)
class Segment:
    uri: str
    duration: float


@dataclass(frozen=True)
class Variant:
    uri: str
    bandwidth: int
    average_bandwidth: int
    codecs: str
    resolution: tuple[int, int] | None = None
    frame_rate: float | None = None


def avc1(profile: str, level: int) -> str:
    """RFC 6381 codec string for H.264, e.g. ``avc1.64001f`` (High, level 3.1)."""
    key = profile.strip().lower()
    return f"avc1.{_H264_PROFILES.get(key, '64')}{_CONSTRAINTS.get(key, '00')}{int(level):02x}"


def parse_media(text: str) -> tuple[float, list[Segment]]:
    """(target duration, segments) of a media playlist."""
    if not text.startswith("#EXTM3U"):
        raise ValueError("not an M3U8 playlist")
    target, segments, pending = 0.0, [], None
    for line in (ln.strip() for ln in text.splitlines()):
        if line.startswith("#EXT-X-TARGETDURATION:"):
            target = float(line.split(":", 1)[1])
        elif line.startswith("#EXTINF:"):
            pending = float(line.split(":", 1)[1].split(",", 1)[0])
        elif line and not line.startswith("#"):
            if pending is None:
                raise ValueError(f"segment {line!r} has no #EXTINF")
            segments.append(Segment(line, pending))
            pending = None
    return target, segments


def parse_master(text: str) -> list[dict]:
    """Variants of a master playlist: their attributes plus ``URI``."""
    if not text.startswith("#EXTM3U"):
        raise ValueError("not an M3U8 playlist")
    out, attrs = [], None
    for line in (ln.strip() for ln in text.splitlines()):
        if line.startswith("#EXT-X-STREAM-INF:"):
            attrs = {k: v.strip('"') for k, v in _ATTR.findall(line.split(":", 1)[1])}
        elif line and not line.startswith("#") and attrs is not None:
            out.append({**attrs, "URI": line})
            attrs = None
    return out


def measure(playlist: Path) -> tuple[int, int, float, list[Segment]]:
    """(peak bit/s, average bit/s, total seconds, segments) of a media playlist on disk."""
    _, segments = parse_media(playlist.read_text())
    if not segments:
        raise ValueError(f"{playlist} lists no segments")
    peak, total_bits, total_seconds = 0, 0, 0.0
    for seg in segments:
        bits = (playlist.parent / seg.uri).stat().st_size * 8
        total_bits += bits
        total_seconds += seg.duration
        if seg.duration >= 0.5:   # a short last segment would overstate the rate
            peak = max(peak, int(bits / seg.duration))
    average = int(total_bits / max(total_seconds, 0.001))
    return max(peak, average), average, total_seconds, segments


def master_playlist(variants: list[Variant]) -> str:
    lines = ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-INDEPENDENT-SEGMENTS"]
    for v in variants:
        attrs = [f"BANDWIDTH={v.bandwidth}", f"AVERAGE-BANDWIDTH={v.average_bandwidth}", f'CODECS="{v.codecs}"']
        if v.resolution:
            attrs.append(f"RESOLUTION={v.resolution[0]}x{v.resolution[1]}")
        if v.frame_rate:
            attrs.append(f"FRAME-RATE={v.frame_rate:.3f}")
        lines += [f"#EXT-X-STREAM-INF:{','.join(attrs)}", v.uri]
    return "\n".join(lines) + "\n"


def _ts(seconds: float) -> str:
    ms = int(round(seconds * 1000))
    h, rem = divmod(ms, 3_600_000)
    m, rem = divmod(rem, 60_000)
    s, ms = divmod(rem, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}.{ms:03d}"


def sprite_vtt(grid: SpriteGrid, duration: float, sprite_uri: str) -> str:
    """WebVTT cues mapping each interval to its tile: ``sprite.jpg#xywh=x,y,w,h``."""
    lines = ["WEBVTT", ""]
    for i in range(grid.count):
        start = i * grid.interval
        if start >= duration:
            break
        end = min((i + 1) * grid.interval, duration)
        x, y = (i % grid.columns) * grid.tile_width, (i // grid.columns) * grid.tile_height
        lines += [f"{_ts(start)} --> {_ts(end)}", f"{sprite_uri}#xywh={x},{y},{grid.tile_width},{grid.tile_height}", ""]
    return "\n".join(lines)


def parse_vtt_regions(text: str) -> list[tuple[float, float, str, tuple[int, int, int, int]]]:
    """(start, end, uri, (x, y, w, h)) for each cue of a sprite WebVTT."""
    def secs(ts: str) -> float:
        h, m, s = ts.split(":")
        return int(h) * 3600 + int(m) * 60 + float(s)

    if not text.startswith("WEBVTT"):
        raise ValueError("not a WebVTT file")
    cues, lines = [], text.splitlines()
    for i, line in enumerate(lines):
        if "-->" in line:
            start, end = (p.strip() for p in line.split("-->"))
            uri, _, frag = lines[i + 1].partition("#xywh=")
            x, y, w, h = (int(v) for v in frag.split(","))
            cues.append((secs(start), secs(end), uri, (x, y, w, h)))
    return cues
