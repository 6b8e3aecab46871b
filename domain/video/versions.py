"""Versions of an asset's outputs: each transcode builds a new one under its own prefix; the
asset switches to it in one database update once it is uploaded and checked; versions no
longer served are deleted from storage after a grace period by a sweep.

A later version never loses to an earlier one: when two transcodes of one asset run at once,
whichever finishes, the higher version number is served and the other is retired.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from domain.db import utcnow
from domain.storage import Storage
from domain.video.assets import prefix as asset_prefix, require
from domain.video.models import VideoAsset, VideoRendition, VideoVersion


def version_prefix(asset_id: str, number: int) -> str:
    return f"{asset_prefix(asset_id)}v/{number}/"


def start(session: Session, asset_id: str) -> VideoVersion:
    """A new version number for the asset (under its row lock) and its row, status building."""
    asset = require(session, asset_id, lock=True)
    asset.versions_started = (asset.versions_started or 0) + 1
    version = VideoVersion(asset_id=asset_id, number=asset.versions_started,
                           prefix=version_prefix(asset_id, asset.versions_started), status="building")
    session.add(version)
    session.flush()
    return version


def _row(session: Session, asset_id: str, number: int) -> VideoVersion | None:
    return session.scalars(select(VideoVersion).where(VideoVersion.asset_id == asset_id,
                                                      VideoVersion.number == number)).one_or_none()


def fail(session: Session, asset_id: str, number: int) -> None:
    row = _row(session, asset_id, number)
    if row is not None and row.status == "building":
        row.status, row.retired_at = "failed", utcnow()


def publish(session: Session, asset_id: str, number: int, result: dict) -> bool:
    """Serve version ``number`` (already uploaded and checked): the asset row's keys, status and
    renditions change in this one transaction, under the asset's row lock. Returns False when a
    later version is already served (this one is retired at once)."""
    asset = require(session, asset_id, lock=True)
    row = _row(session, asset_id, number)
    now = utcnow()
    if asset.version is not None and asset.version > number:
        if row is not None:
            row.status, row.retired_at = "retired", now
        return False
    if asset.version is not None and asset.version != number:
        old = _row(session, asset_id, asset.version)
        if old is not None and old.status == "live":
            old.status, old.retired_at = "retired", now
    if row is not None:
        row.status, row.retired_at = "live", None
    asset.version = number
    asset.status, asset.error = "ready", None
    asset.duration_seconds = result["duration"]
    asset.width, asset.height = result["width"], result["height"]
    asset.master_key, asset.mpd_key = result["master_key"], result["mpd_key"]
    asset.poster_key, asset.sprite_key = result["poster_key"], result["sprite_key"]
    asset.thumbnails_vtt_key = result["thumbnails_vtt_key"]
    asset.details = result
    asset.ready_at = now
    _renditions(session, asset, result["renditions"])
    session.flush()
    session.refresh(asset)
    return True


def _renditions(session: Session, asset: VideoAsset, produced: list[dict]) -> None:
    existing = {r.name: r for r in session.scalars(select(VideoRendition).where(VideoRendition.asset_id == asset.id))}
    for r in produced:
        row = existing.pop(r["name"], None) or VideoRendition(asset_id=asset.id, name=r["name"])
        row.kind, row.width, row.height = r["kind"], r.get("width"), r.get("height")
        row.bandwidth, row.average_bandwidth = r["bandwidth"], r["average_bandwidth"]
        row.codecs, row.playlist_key, row.segment_count = r["codecs"], r["playlist_key"], r["segments"]
        session.add(row)
    for row in existing.values():
        session.delete(row)


def sweep(session: Session, storage: Storage, *, grace: timedelta, abandoned_after: timedelta,
          now: datetime | None = None, batch: int = 50) -> list[str]:
    """Delete from storage a bounded batch of versions out of service for longer than ``grace``
    (retired, failed) or left building longer than ``abandoned_after`` (a worker that died);
    their rows become ``deleted``. Rows are claimed with SKIP LOCKED: two sweeps share the work."""
    now = now or utcnow()
    rows = session.scalars(
        select(VideoVersion)
        .where(or_(VideoVersion.status.in_(("retired", "failed")) & (VideoVersion.retired_at < now - grace),
                   (VideoVersion.status == "building") & (VideoVersion.created_at < now - abandoned_after)))
        .order_by(VideoVersion.created_at).limit(batch).with_for_update(skip_locked=True)).all()
    done = []
    for row in rows:
        storage.delete_prefix(row.prefix)
        row.status, row.retired_at = "deleted", row.retired_at or now
        done.append(row.prefix)
    session.flush()
    return done
