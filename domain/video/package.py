"""Package the encoded CMAF tracks: measure them, write the HLS master, the I-frame playlists and
the DASH MPD, all pointing at the one set of segments ffmpeg wrote.

Every figure in the manifests comes from the files: segment times and durations from the
fragments' ``tfdt``/``trun`` boxes, bit rates from the segment sizes (rounded up), I-frame byte
ranges from each fragment's first sample.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from domain.video import dash, fmp4, hls
from domain.video.commands import INIT, PLAYLIST, SEGMENT_PATTERN

MASTER = "master.m3u8"
MPD = "manifest.mpd"
IFRAMES = "iframes.m3u8"
AUDIO_GROUP = "audio"


@dataclass(frozen=True)
class Segment:
    uri: str
    size: int
    start: int              # timescale units
    duration: int
    fragments: list[fmp4.Fragment]


@dataclass(frozen=True)
class Track:
    name: str
    timescale: int
    segments: list[Segment]

    @property
    def end(self) -> float:
        """Where the track's last segment ends, in seconds."""
        last = self.segments[-1]
        return (last.start + last.duration) / self.timescale

    @property
    def seconds(self) -> float:
        return sum(s.duration for s in self.segments) / self.timescale

    def bandwidth(self) -> tuple[int, int]:
        """(peak, average) bit/s, rounded up. A last segment shorter than half a second is left
        out of the peak (its few frames over a tiny duration would overstate the rate)."""
        total_bits = sum(s.size * 8 for s in self.segments)
        average = math.ceil(total_bits / max(self.seconds, 0.001))
        peaks = [math.ceil(s.size * 8 * self.timescale / s.duration) for s in self.segments
                 if s.duration >= 0.5 * self.timescale]
        return max(peaks + [average]), average

    def iframes(self) -> list[hls.IFrame]:
        frames = []
        marks = [(s.uri, f) for s in self.segments for f in s.fragments if f.first_is_sync]
        end = self.segments[-1].start + self.segments[-1].duration if self.segments else 0
        for i, (uri, f) in enumerate(marks):
            nxt = marks[i + 1][1].start if i + 1 < len(marks) else end
            frames.append(hls.IFrame(uri=uri, offset=f.offset, length=f.first_end - f.offset,
                                     duration=(nxt - f.start) / self.timescale))
        return frames


def read_track(folder: Path) -> Track:
    """The track ffmpeg wrote in ``folder`` (init segment, media segments, its media playlist)."""
    tracks = fmp4.read_init(folder / INIT)
    if len(tracks) != 1:
        raise ValueError(f"{folder.name}: {len(tracks)} tracks in one CMAF file")
    track = next(iter(tracks.values()))
    _, listed = hls.parse_media((folder / PLAYLIST).read_text())
    segments = []
    for seg in listed:
        path = folder / seg.uri
        frags = fmp4.read_fragments(path, track)
        if not frags:
            raise ValueError(f"{folder.name}/{seg.uri} has no fragment")
        segments.append(Segment(seg.uri, path.stat().st_size, frags[0].start, sum(f.duration for f in frags), frags))
    return Track(folder.name, track.timescale, segments)


def media_template() -> str:
    return SEGMENT_PATTERN.replace("%05d", "$Number%05d$")


def write_manifests(out: Path, renditions: list[dict], duration: float) -> dict:
    """Write the master playlist, an I-frame playlist per video rendition and the MPD in ``out``
    (the folder holding one folder per rendition). ``renditions``: the checked renditions
    (name, kind, width, height, codecs, frame_rate); each gets its measured figures added."""
    tracks = {r["name"]: read_track(out / r["name"]) for r in renditions}
    audio = next((r for r in renditions if r["kind"] == "audio"), None)
    audio_bw = tracks[audio["name"]].bandwidth() if audio else (0, 0)
    variants, reps = [], []
    for r in renditions:
        track = tracks[r["name"]]
        peak, average = track.bandwidth()
        r.update(bandwidth=peak, average_bandwidth=average, segments=len(track.segments),
                 duration=round(track.seconds, 3))
        reps.append(dash.Representation(
            id=r["name"], kind=r["kind"], bandwidth=peak, codecs=r["codecs"], timescale=track.timescale,
            timeline=[(s.start, s.duration) for s in track.segments], init=f"{r['name']}/{INIT}",
            media=f"{r['name']}/{media_template()}", width=r.get("width"), height=r.get("height"),
            frame_rate=r.get("frame_rate")))
        if r["kind"] != "video":
            continue
        frames = track.iframes()
        (out / r["name"] / IFRAMES).write_text(hls.iframe_playlist(frames, INIT))
        iframe_bits = [f.length * 8 / f.duration for f in frames if f.duration > 0]
        iframe_avg = sum(f.length * 8 for f in frames) / max(track.seconds, 0.001)
        codecs = r["codecs"] + (f",{audio['codecs']}" if audio else "")
        variants.append(hls.Variant(
            uri=f"{r['name']}/{PLAYLIST}", bandwidth=peak + audio_bw[0], average_bandwidth=average + audio_bw[1],
            codecs=codecs, resolution=(r["width"], r["height"]), frame_rate=r.get("frame_rate"),
            audio_group=AUDIO_GROUP if audio else None, iframe_uri=f"{r['name']}/{IFRAMES}",
            iframe_bandwidth=math.ceil(max(iframe_bits + [iframe_avg])), iframe_average_bandwidth=math.ceil(iframe_avg),
            video_codecs=r["codecs"]))
        r["iframes"] = len(frames)
    audio_rendition = hls.AudioRendition(uri=f"{audio['name']}/{PLAYLIST}", group=AUDIO_GROUP) if audio else None
    (out / MASTER).write_text(hls.master_playlist(variants, audio_rendition))
    max_segment = max(s.duration / t.timescale for t in tracks.values() for s in t.segments)
    # the presentation lasts until its longest track ends, as the browser's MediaSource will say:
    # a shorter MPD duration leaves the player past the period's end and it seeks back
    end = max(t.end for t in tracks.values())
    (out / MPD).write_text(dash.mpd(reps, max(duration, end), max_segment))
    return {"master": MASTER, "mpd": MPD}
