"""Sources generated with lavfi (no downloaded media) and an S3 storage on the moto server."""
from __future__ import annotations

import secrets
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


@pytest.fixture
def small_config(tmp_path) -> engine.Config:
    """A small ladder and 1 s segments so each transcode of a 2 s clip takes about a second."""
    return engine.Config(rungs=[180, 120], segment_seconds=1.0, thumbnail_interval=0.5,
                         tmp_dir=str(tmp_path / "work"), preset="ultrafast")
