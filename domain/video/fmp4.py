"""Read what the manifests need from fragmented MP4 (CMAF) files: each track's timescale from
the init segment, and per media segment its fragments' decode time, duration and leading sample.

A reader of a few boxes (ISO/IEC 14496-12): ``moov/trak/tkhd|mdia/mdhd``, ``moov/mvex/trex``,
``moof/traf/tfhd|tfdt|trun``. It reads headers only, never sample data.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

CONTAINERS = {"moov", "trak", "mdia", "mvex", "moof", "traf", "edts"}
NON_SYNC = 0x10000          # sample_is_non_sync_sample in sample flags


@dataclass(frozen=True)
class Track:
    track_id: int
    timescale: int
    default_duration: int = 0
    default_size: int = 0
    default_flags: int = 0


@dataclass(frozen=True)
class Fragment:
    offset: int             # of the moof box in its file
    start: int              # baseMediaDecodeTime, in the track's timescale
    duration: int           # sum of its sample durations
    samples: int
    first_end: int          # file offset just past the first sample's data
    first_is_sync: bool


def boxes(data: bytes, start: int = 0, end: int | None = None):
    """(type, payload start, box end, box start) of each box between ``start`` and ``end``."""
    end = len(data) if end is None else end
    pos = start
    while pos + 8 <= end:
        size, kind = struct.unpack_from(">I4s", data, pos)
        header = 8
        if size == 1:
            size = struct.unpack_from(">Q", data, pos + 8)[0]
            header = 16
        elif size == 0:
            size = end - pos
        if size < header or pos + size > end:
            raise ValueError(f"box {kind!r} at {pos} runs past the end of the file")
        yield kind.decode("latin-1"), pos + header, pos + size, pos
        pos += size


def _walk(data: bytes, path: list[str], start: int = 0, end: int | None = None):
    for kind, body, stop, at in boxes(data, start, end):
        if kind == path[0]:
            if len(path) == 1:
                yield body, stop, at
            else:
                yield from _walk(data, path[1:], body, stop)


def _full(data: bytes, body: int) -> tuple[int, int, int]:
    vf = struct.unpack_from(">I", data, body)[0]
    return vf >> 24, vf & 0xFFFFFF, body + 4


def read_init(path: Path) -> dict[int, Track]:
    """Tracks of an init segment by track id."""
    data = Path(path).read_bytes()
    tracks: dict[int, dict] = {}
    for trak, stop, _ in _walk(data, ["moov", "trak"]):
        track_id = timescale = 0
        for body, _, _ in _walk(data, ["tkhd"], trak, stop):
            version, _, p = _full(data, body)
            track_id = struct.unpack_from(">I", data, p + (16 if version == 1 else 8))[0]
        for body, _, _ in _walk(data, ["mdia", "mdhd"], trak, stop):
            version, _, p = _full(data, body)
            timescale = struct.unpack_from(">I", data, p + (16 if version == 1 else 8))[0]
        tracks[track_id] = {"track_id": track_id, "timescale": timescale}
    for body, _, _ in _walk(data, ["moov", "mvex", "trex"]):
        _, _, p = _full(data, body)
        track_id, _, duration, size, flags = struct.unpack_from(">5I", data, p)
        if track_id in tracks:
            tracks[track_id].update(default_duration=duration, default_size=size, default_flags=flags)
    if not tracks:
        raise ValueError(f"{Path(path).name} has no track")
    return {tid: Track(**t) for tid, t in tracks.items()}


def _traf(data: bytes, moof: int, body: int, stop: int, track: Track) -> Fragment:
    base, duration_d, size_d, flags_d = moof, track.default_duration, track.default_size, track.default_flags
    start, total, samples, first_end, first_sync = 0, 0, 0, 0, False
    for kind, b, _, _ in boxes(data, body, stop):
        if kind == "tfhd":
            _, flags, p = _full(data, b)
            p += 4                                    # track_ID
            if flags & 0x1:
                base = struct.unpack_from(">Q", data, p)[0]
                p += 8
            if flags & 0x2:
                p += 4
            if flags & 0x8:
                duration_d = struct.unpack_from(">I", data, p)[0]
                p += 4
            if flags & 0x10:
                size_d = struct.unpack_from(">I", data, p)[0]
                p += 4
            if flags & 0x20:
                flags_d = struct.unpack_from(">I", data, p)[0]
        elif kind == "tfdt":
            version, _, p = _full(data, b)
            start = struct.unpack_from(">Q" if version == 1 else ">I", data, p)[0]
        elif kind == "trun":
            _, flags, p = _full(data, b)
            count = struct.unpack_from(">I", data, p)[0]
            p += 4
            data_offset = base
            if flags & 0x1:
                data_offset = base + struct.unpack_from(">i", data, p)[0]
                p += 4
            first_flags = None
            if flags & 0x4:
                first_flags = struct.unpack_from(">I", data, p)[0]
                p += 4
            for i in range(count):
                duration, size, sflags = duration_d, size_d, flags_d
                if flags & 0x100:
                    duration = struct.unpack_from(">I", data, p)[0]
                    p += 4
                if flags & 0x200:
                    size = struct.unpack_from(">I", data, p)[0]
                    p += 4
                if flags & 0x400:
                    sflags = struct.unpack_from(">I", data, p)[0]
                    p += 4
                if flags & 0x800:
                    p += 4
                if i == 0 and samples == 0:
                    if first_flags is not None:
                        sflags = first_flags
                    first_end, first_sync = data_offset + size, not sflags & NON_SYNC
                total += duration
            samples += count
    return Fragment(offset=moof, start=start, duration=total, samples=samples, first_end=first_end,
                    first_is_sync=first_sync)


def read_fragments(path: Path, track: Track) -> list[Fragment]:
    """The fragments (moof boxes) of one media segment, in file order."""
    data = Path(path).read_bytes()
    out = []
    for kind, body, stop, at in boxes(data):
        if kind == "moof":
            for traf, traf_stop, _ in _walk(data, ["traf"], body, stop):
                out.append(_traf(data, at, traf, traf_stop, track))
    return out


def _descriptor(data: bytes, p: int) -> tuple[int, int, int]:
    """(tag, payload start, payload end) of an MPEG-4 descriptor (ISO/IEC 14496-1) at ``p``."""
    tag, size, p = data[p], 0, p + 1
    for _ in range(4):
        b = data[p]
        p += 1
        size = (size << 7) | (b & 0x7F)
        if not b & 0x80:
            break
    return tag, p, p + size


def _mp4a(data: bytes, esds: int) -> str:
    _, _, p = _full(data, esds)
    tag, p, _ = _descriptor(data, p)                       # ES_Descriptor
    if tag != 3:
        raise ValueError("esds without an ES descriptor")
    flags = data[p + 2]
    p += 3 + (2 if flags & 0x80 else 0) + (1 + data[p + 3] if flags & 0x40 else 0) + (2 if flags & 0x20 else 0)
    tag, p, _ = _descriptor(data, p)                       # DecoderConfigDescriptor
    object_type = data[p]
    tag, q, _ = _descriptor(data, p + 13)                  # DecoderSpecificInfo
    audio_object = data[q] >> 3 if tag == 5 else 0
    return f"mp4a.{object_type:02x}.{audio_object}" if audio_object else f"mp4a.{object_type:02x}"


def codec_string(path: Path) -> str:
    """The RFC 6381 ``codecs`` value of an init segment's one track, read from its sample entry:
    ``avc1.PPCCLL`` from avcC (profile, constraint flags, level), ``mp4a.40.N`` from esds."""
    data = Path(path).read_bytes()
    for stsd, stop, _ in _walk(data, ["moov", "trak", "mdia", "minf", "stbl", "stsd"]):
        for kind, body, end, _ in boxes(data, stsd + 8, stop):
            if kind in ("avc1", "avc3"):
                for child, cbody, _, _ in boxes(data, body + 78, end):
                    if child == "avcC":
                        return f"{kind}.{data[cbody + 1:cbody + 4].hex()}"
            if kind == "mp4a":
                for child, cbody, _, _ in boxes(data, body + 28, end):
                    if child == "esds":
                        return _mp4a(data, cbody)
            raise ValueError(f"no codec string for a {kind!r} sample entry")
    raise ValueError(f"{Path(path).name} has no sample description")
