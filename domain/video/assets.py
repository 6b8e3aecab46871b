"""Video asset rows: create for an upload, move through processing, publish renditions."""
from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from domain.core.models import Lesson
from domain.db import new_id, utcnow
from domain.jobs.errors import InvalidPayload, PermanentError
from domain.video.models import VideoAsset, VideoRendition


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
    return session.get(VideoAsset, asset_id, with_for_update=lock)


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


def publish(session: Session, asset_id: str, result: dict) -> VideoAsset:
    """Record a finished transcode (its master playlist is already uploaded). Safe to run twice:
    renditions are upserted by (asset, name) and the ones no longer produced are removed."""
    asset = require(session, asset_id, lock=True)
    asset.status = "ready"
    asset.error = None
    asset.duration_seconds = result["duration"]
    asset.width, asset.height = result["width"], result["height"]
    asset.master_key = result["master_key"]
    asset.poster_key = result["poster_key"]
    asset.sprite_key = result["sprite_key"]
    asset.thumbnails_vtt_key = result["thumbnails_vtt_key"]
    asset.details = result
    asset.ready_at = utcnow()
    existing = {r.name: r for r in session.scalars(select(VideoRendition).where(VideoRendition.asset_id == asset_id))}
    produced = set()
    for r in result["renditions"]:
        produced.add(r["name"])
        row = existing.get(r["name"]) or VideoRendition(asset_id=asset_id, name=r["name"])
        row.kind, row.width, row.height = r["kind"], r.get("width"), r.get("height")
        row.bandwidth, row.average_bandwidth = r["bandwidth"], r["average_bandwidth"]
        row.codecs, row.playlist_key, row.segment_count = r["codecs"], r["playlist_key"], r["segments"]
        session.add(row)
    for name, row in existing.items():
        if name not in produced:
            session.delete(row)
    session.flush()
    session.refresh(asset)
    return asset


def to_dict(asset: VideoAsset) -> dict:
    return {
        "id": asset.id, "lesson_id": asset.lesson_id, "filename": asset.filename,
        "content_type": asset.content_type, "size_bytes": asset.size_bytes, "source_key": asset.source_key,
        "status": asset.status,
        "duration_seconds": asset.duration_seconds, "width": asset.width, "height": asset.height,
        "master_key": asset.master_key, "poster_key": asset.poster_key, "sprite_key": asset.sprite_key,
        "thumbnails_vtt_key": asset.thumbnails_vtt_key, "error": asset.error,
        "created_at": asset.created_at.isoformat() if asset.created_at else None,
        "ready_at": asset.ready_at.isoformat() if asset.ready_at else None,
        "renditions": [{"name": r.name, "kind": r.kind, "width": r.width, "height": r.height,
                        "bandwidth": r.bandwidth, "average_bandwidth": r.average_bandwidth, "codecs": r.codecs,
                        "playlist_key": r.playlist_key, "segments": r.segment_count}
                       for r in sorted(asset.renditions, key=lambda r: -r.bandwidth)],
    }
