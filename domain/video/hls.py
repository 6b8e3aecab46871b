"""HLS playlists and the thumbnail WebVTT: write the master and the I-frame playlists, read
media playlists back.

``BANDWIDTH`` is the peak segment bit rate and ``AVERAGE-BANDWIDTH`` the mean, both measured
from the segments actually written (RFC 8216 §4.3.4.2), rounded up, not guessed from encoder
settings; a variant's figures include its audio rendition's, which plays along with it.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

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
    audio_group: str | None = None
    iframe_uri: str | None = None
    iframe_bandwidth: int | None = None
    iframe_average_bandwidth: int | None = None
    video_codecs: str | None = None


@dataclass(frozen=True)
class AudioRendition:
    uri: str
    group: str = "audio"
    name: str = "Main"
    channels: int = 2


@dataclass(frozen=True)
class IFrame:
    uri: str                # the media segment holding it
    offset: int             # byte range of its fragment's moof and the frame's data
    length: int
    duration: float         # until the next I-frame


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


def master_playlist(variants: list[Variant], audio: AudioRendition | None = None) -> str:
    """A version 7 master playlist: the audio rendition group, the variants, their I-frame streams."""
    lines = ["#EXTM3U", "#EXT-X-VERSION:7", "#EXT-X-INDEPENDENT-SEGMENTS"]
    if audio:
        lines.append(f'#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="{audio.group}",NAME="{audio.name}",DEFAULT=YES,'
                     f'AUTOSELECT=YES,CHANNELS="{audio.channels}",URI="{audio.uri}"')
    for v in variants:
        attrs = [f"BANDWIDTH={v.bandwidth}", f"AVERAGE-BANDWIDTH={v.average_bandwidth}", f'CODECS="{v.codecs}"']
        if v.resolution:
            attrs.append(f"RESOLUTION={v.resolution[0]}x{v.resolution[1]}")
        if v.frame_rate:
            attrs.append(f"FRAME-RATE={v.frame_rate:.3f}")
        if v.audio_group:
            attrs.append(f'AUDIO="{v.audio_group}"')
        lines += [f"#EXT-X-STREAM-INF:{','.join(attrs)}", v.uri]
    for v in variants:
        if v.iframe_uri:
            attrs = [f"BANDWIDTH={v.iframe_bandwidth}", f"AVERAGE-BANDWIDTH={v.iframe_average_bandwidth}",
                     f'CODECS="{v.video_codecs}"']
            if v.resolution:
                attrs.append(f"RESOLUTION={v.resolution[0]}x{v.resolution[1]}")
            lines.append(f'#EXT-X-I-FRAME-STREAM-INF:{",".join(attrs)},URI="{v.iframe_uri}"')
    return "\n".join(lines) + "\n"


def iframe_playlist(frames: list[IFrame], init_uri: str) -> str:
    """An I-frame-only playlist (RFC 8216 §4.3.3.6) of byte ranges into the fMP4 media segments."""
    target = max((f.duration for f in frames), default=1.0)
    lines = ["#EXTM3U", "#EXT-X-VERSION:7", f"#EXT-X-TARGETDURATION:{max(1, round(target))}",
             "#EXT-X-MEDIA-SEQUENCE:0", "#EXT-X-PLAYLIST-TYPE:VOD", "#EXT-X-I-FRAMES-ONLY",
             f'#EXT-X-MAP:URI="{init_uri}"']
    for f in frames:
        lines += [f"#EXTINF:{f.duration:.6f},", f"#EXT-X-BYTERANGE:{f.length}@{f.offset}", f.uri]
    lines.append("#EXT-X-ENDLIST")
    return "\n".join(lines) + "\n"


def _ts(seconds: float) -> str:
    ms = int(round(seconds * 1000))
    h, rem = divmod(ms, 3_600_000)
    m, rem = divmod(rem, 60_000)
    s, ms = divmod(rem, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}.{ms:03d}"


def sprite_vtt(grid: SpriteGrid, duration: float) -> str:
    """WebVTT cues mapping each interval to its tile: ``sprite_000.jpg#xywh=x,y,w,h``; the last
    cue runs to the end of the video, every cue's tile is a frame the video has."""
    lines = ["WEBVTT", ""]
    for i in range(grid.count):
        start = i * grid.interval
        end = duration if i == grid.count - 1 else min((i + 1) * grid.interval, duration)
        sheet, x, y = grid.place(i)
        lines += [f"{_ts(start)} --> {_ts(end)}",
                  f"{grid.sheet_name(sheet)}#xywh={x},{y},{grid.tile_width},{grid.tile_height}", ""]
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
