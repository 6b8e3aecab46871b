"""Sources generated with lavfi (no downloaded media) and an S3 storage on the moto server."""
from __future__ import annotations

import secrets
import subprocess
from pathlib import Path

import pytest

from domain.video import engine
from domain.video.samples import make_sample

SOURCES = {
    "normal": {},
    "no_audio": {"audio": False},
    "rotated": {"rotate": 90},
    "portrait": {"width": 180, "height": 320},
    "odd": {"width": 321, "height": 181},
    "ten_bit": {"pix_fmt": "yuv420p10le"},
    "yuv444": {"pix_fmt": "yuv444p"},
    "vfr": {"vfr": True},
}


@pytest.fixture(scope="session")
def video_sources(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("video-sources")
    out = {name: make_sample(root / f"{name}.mp4", seconds=2, **kw) for name, kw in SOURCES.items()}
    # corrupt: an mp4 with its index (moov) at the end, cut in half
    whole = make_sample(root / "whole.mp4", seconds=2)
    data = whole.read_bytes()
    (root / "corrupt.mp4").write_bytes(data[: len(data) // 2])
    out["corrupt"] = root / "corrupt.mp4"
    (root / "notes.mp4").write_text("these are lecture notes, not a video\n" * 200)
    out["not_video"] = root / "notes.mp4"
    return out


FF = ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-y"]
SINE = ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=2"]
X264 = ["-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-b:a", "96k"]

# odd sources, each made with lavfi: name -> ffmpeg arguments after the common ones (output last)
ODD = {
    # 16:9 PAL-style: 360x288 coded, pixels 64:45 wide, shown 512x288
    "anamorphic": ["-f", "lavfi", "-i", "testsrc2=size=360x288:rate=25:duration=2,setsar=64/45", *SINE, *X264,
                   "-shortest"],
    # true interlacing: 50 fields/s woven into 25 frames/s, coded as interlaced (field_order tt)
    "interlaced": ["-f", "lavfi", "-i", "testsrc2=size=320x180:rate=50:duration=2,tinterlace=mode=interleave_top,"
                   "setfield=tff", *SINE, *X264, "-flags", "+ildct+ilme", "-top", "1", "-shortest"],
    # 1 s at 20 fps, then 1 s at 15 fps
    "vfr_steps": ["-f", "lavfi", "-i", "testsrc2=size=320x180:rate=20:duration=1,settb=1/600[a];"
                  "testsrc2=size=320x180:rate=15:duration=1,settb=1/600[b];[a][b]concat=n=2:v=1:a=0",
                  *SINE, *X264, "-fps_mode", "vfr", "-video_track_timescale", "600"],
    # the sound runs 12 ms past the last picture: a tile at 2.0 s would have no frame
    "audio_tail": ["-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25:duration=2", "-f", "lavfi", "-i",
                   "sine=frequency=440:sample_rate=48000:duration=2.012", *X264],
}


@pytest.fixture(scope="session")
def odd_sources(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("odd-sources")
    out = {}
    for name, args in ODD.items():
        out[name] = root / f"{name}.mp4"
        subprocess.run([*FF, *args, str(out[name])], check=True, timeout=120)
    # a subtitle track that runs to 0:09 beside 2 s of picture and sound
    srt = root / "late.srt"
    srt.write_text("1\n00:00:08,000 --> 00:00:09,000\nthe end credits\n")
    out["long_subtitles"] = root / "long_subtitles.mp4"
    subprocess.run([*FF, "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25:duration=2", *SINE, "-i", str(srt),
                    "-map", "0:v", "-map", "1:a", "-map", "2:s", *X264, "-c:s", "mov_text",
                    str(out["long_subtitles"])], check=True, timeout=120)
    # an upload cut short: the index (moov, up front) promises 4 s, the data stops half-way
    whole = root / "faststart.mp4"
    subprocess.run([*FF, "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25:duration=4", "-f", "lavfi", "-i",
                    "sine=duration=4", *X264, "-movflags", "+faststart", str(whole)], check=True, timeout=120)
    data = whole.read_bytes()
    out["truncated"] = root / "truncated.mp4"
    out["truncated"].write_bytes(data[: len(data) // 2])
    return out


@pytest.fixture(scope="session")
def s3(s3_server):
    from domain.storage import S3Storage

    return S3Storage("coursework-test", endpoint_url=s3_server.endpoint)


@pytest.fixture
def upload(s3):
    """Put a source into the bucket as a fresh asset; returns (asset_id, source_key)."""
    def _upload(path: Path) -> tuple[str, str]:
        asset_id = secrets.token_hex(8)
        key = f"videos/{asset_id}/source/{path.name}"
        s3.put_file(key, path, content_type="video/mp4")
        return asset_id, key
    return _upload


def version(asset_id: str, n: int = 1) -> str:
    return f"videos/{asset_id}/v/{n}/"


@pytest.fixture
def small_config(tmp_path) -> engine.Config:
    """A small ladder and 1 s segments so each transcode of a 2 s clip takes about a second."""
    return engine.Config(rungs=[180, 120], segment_seconds=1.0, thumbnail_interval=0.5,
                         tmp_dir=str(tmp_path / "work"), preset="ultrafast")
