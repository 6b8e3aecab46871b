"""The DASH MPD over the same CMAF segments the HLS playlists list.

A static (on-demand) presentation, profiles ``isoff-live`` (segment templates: one file per
segment, which HLS shares) and ``cmaf:2019``. Each representation has a ``SegmentTimeline`` of
the exact fragment times read from the segments, ``bandwidth`` = the peak segment bit rate
(so ``minBufferTime`` of one segment suffices), codecs, size and frame rate as in HLS.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from xml.etree import ElementTree as ET

NS = "urn:mpeg:dash:schema:mpd:2011"
PROFILES = "urn:mpeg:dash:profile:isoff-live:2011,urn:mpeg:dash:profile:cmaf:2019"
CHANNELS_SCHEME = "urn:mpeg:mpegB:cicp:ChannelConfiguration"


@dataclass(frozen=True)
class Representation:
    id: str
    kind: str                       # video | audio
    bandwidth: int
    codecs: str
    timescale: int
    timeline: list[tuple[int, int]]   # (start, duration) per segment, in timescale units
    init: str                       # paths relative to the MPD
    media: str                      # with $Number%05d$
    width: int | None = None
    height: int | None = None
    frame_rate: float | None = None
    channels: int = 2
    sample_rate: int = 48000


def duration_iso(seconds: float) -> str:
    return f"PT{seconds:.3f}S"


def frame_rate_attr(fps: float) -> str:
    value = Fraction(fps).limit_denominator(1001)
    return str(value.numerator) if value.denominator == 1 else f"{value.numerator}/{value.denominator}"


def _timeline(parent: ET.Element, timeline: list[tuple[int, int]]) -> None:
    tl = ET.SubElement(parent, "SegmentTimeline")
    prev: ET.Element | None = None
    expected = None
    for start, dur in timeline:
        if prev is not None and start == expected and int(prev.get("d")) == dur:
            prev.set("r", str(int(prev.get("r", "0")) + 1))
        else:
            prev = ET.SubElement(tl, "S", {"t": str(start), "d": str(dur)})
        expected = start + dur


def mpd(representations: list[Representation], duration: float, max_segment: float) -> str:
    root = ET.Element("MPD", {"xmlns": NS, "profiles": PROFILES, "type": "static",
                              "mediaPresentationDuration": duration_iso(duration),
                              "minBufferTime": duration_iso(math.ceil(max_segment))})
    period = ET.SubElement(root, "Period", {"id": "0", "start": "PT0S"})
    videos = [r for r in representations if r.kind == "video"]
    audios = [r for r in representations if r.kind == "audio"]
    for i, (kind, reps) in enumerate(x for x in (("video", videos), ("audio", audios)) if x[1]):
        attrs = {"id": str(i), "contentType": kind, "mimeType": f"{kind}/mp4", "segmentAlignment": "true",
                 "startWithSAP": "1"}
        if kind == "video":
            attrs.update(maxWidth=str(max(r.width for r in reps)), maxHeight=str(max(r.height for r in reps)),
                         maxFrameRate=frame_rate_attr(max(r.frame_rate or 0 for r in reps)))
        else:
            attrs["lang"] = "und"
        aset = ET.SubElement(period, "AdaptationSet", attrs)
        if kind == "audio":
            ET.SubElement(aset, "Role", {"schemeIdUri": "urn:mpeg:dash:role:2011", "value": "main"})
        for r in reps:
            rattrs = {"id": r.id, "bandwidth": str(r.bandwidth), "codecs": r.codecs}
            if kind == "video":
                rattrs.update(width=str(r.width), height=str(r.height), sar="1:1",
                              frameRate=frame_rate_attr(r.frame_rate or 25))
            else:
                rattrs["audioSamplingRate"] = str(r.sample_rate)
            rep = ET.SubElement(aset, "Representation", rattrs)
            if kind == "audio":
                ET.SubElement(rep, "AudioChannelConfiguration", {"schemeIdUri": CHANNELS_SCHEME,
                                                                 "value": str(r.channels)})
            tmpl = ET.SubElement(rep, "SegmentTemplate", {"timescale": str(r.timescale), "initialization": r.init,
                                                          "media": r.media, "startNumber": "0"})
            _timeline(tmpl, r.timeline)
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
