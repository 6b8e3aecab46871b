"""Video asset rows: create for an upload, move through processing; to_dict for the API."""
from __future__ import annotations

import re

from sqlalchemy.orm import Session

from domain.core.models import Lesson
from domain.db import new_id
from domain.jobs.errors import InvalidPayload, PermanentError
from domain.video.models import VideoAsset


def prefix(asset_id: str) -> str:
    return f"videos/{asset_id}/"


def safe_filename(name: str) -> str:
    base = re.sub(r"[^A-Za-z0-9._-]+", "-", name.rsplit("/", 1)[-1]).strip(".-")
    return (base or "source")[:120]


def create(session: Session, lesson_id: str, filename: str, content_type: str, size_bytes: int) -> VideoAsset:
    if session.get(Lesson, lesson_id) is None:
        raise InvalidPayload("lesson_id", f"no lesson {lesson_id!r}")
    asset_id = new_id()
    asset = VideoAsset(id=asset_id, lesson_id=lesson_id, filename=filename, content_type=content_type,
                       size_bytes=size_bytes, status="awaiting_upload",
                       source_key=f"{prefix(asset_id)}source/{safe_filename(filename)}")
    session.add(asset)
    session.flush()
    return asset


def get(session: Session, asset_id: str, *, lock: bool = False) -> VideoAsset | None:
    # a locked read refreshes what this session may already hold: the row may have changed since
    return session.get(VideoAsset, asset_id, with_for_update=lock, populate_existing=lock)


def require(session: Session, asset_id: str, *, lock: bool = False) -> VideoAsset:
    asset = get(session, asset_id, lock=lock)
    if asset is None:
        raise PermanentError(f"no video asset {asset_id!r}", code="not_found")
    return asset


def mark_processing(session: Session, asset_id: str) -> VideoAsset:
    asset = require(session, asset_id, lock=True)
    if asset.status != "ready":          # a ready asset keeps serving until the new master replaces it
        asset.status = "processing"
    asset.error = None
    return asset


def mark_failed(session: Session, asset_id: str, code: str, message: str, status: str = "failed") -> None:
    asset = get(session, asset_id, lock=True)
    if asset is not None and asset.status != "ready":
        asset.status = status
        asset.error = {"code": code, "message": message[:2000]}


def to_dict(asset: VideoAsset) -> dict:
    return {
        "id": asset.id, "lesson_id": asset.lesson_id, "filename": asset.filename,
        "content_type": asset.content_type, "size_bytes": asset.size_bytes, "source_key": asset.source_key,
        "status": asset.status,
        "duration_seconds": asset.duration_seconds, "width": asset.width, "height": asset.height,
        "version": asset.version, "master_key": asset.master_key, "mpd_key": asset.mpd_key, "poster_key": asset.poster_key, "sprite_key": asset.sprite_key,
        "thumbnails_vtt_key": asset.thumbnails_vtt_key, "error": asset.error,
        "created_at": asset.created_at.isoformat() if asset.created_at else None,
        "ready_at": asset.ready_at.isoformat() if asset.ready_at else None,
        "renditions": [{"name": r.name, "kind": r.kind, "width": r.width, "height": r.height,
                        "bandwidth": r.bandwidth, "average_bandwidth": r.average_bandwidth, "codecs": r.codecs,
                        "playlist_key": r.playlist_key, "segments": r.segment_count}
                       for r in sorted(asset.renditions, key=lambda r: -r.bandwidth)],
    }
