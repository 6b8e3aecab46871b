"""Video assets (one uploaded source, linked to a lesson) and their HLS renditions."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Float, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from domain.db import Base, new_id, utcnow

# awaiting_upload → processing → ready | failed | cancelled (a new transcode job may run again)
STATUSES = ("awaiting_upload", "processing", "ready", "failed", "cancelled")


class VideoAsset(Base):
    __tablename__ = "video_assets"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    lesson_id: Mapped[str] = mapped_column(ForeignKey("lessons.id", ondelete="CASCADE"), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    source_key: Mapped[str] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(16), default="awaiting_upload")
    duration_seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    width: Mapped[int | None] = mapped_column(Integer, nullable=True)
    height: Mapped[int | None] = mapped_column(Integer, nullable=True)
    version: Mapped[int | None] = mapped_column(Integer, nullable=True)          # the one served
    versions_started: Mapped[int] = mapped_column(Integer, default=0)           # version numbers handed out
    master_key: Mapped[str | None] = mapped_column(String(500), nullable=True)
    mpd_key: Mapped[str | None] = mapped_column(String(500), nullable=True)
    poster_key: Mapped[str | None] = mapped_column(String(500), nullable=True)
    sprite_key: Mapped[str | None] = mapped_column(String(500), nullable=True)
    thumbnails_vtt_key: Mapped[str | None] = mapped_column(String(500), nullable=True)
    error: Mapped[dict | None] = mapped_column(nullable=True)
    details: Mapped[dict] = mapped_column(default=dict)      # the last transcode's result
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    ready_at: Mapped[datetime | None] = mapped_column(nullable=True)
    renditions: Mapped[list["VideoRendition"]] = relationship(
        back_populates="asset", cascade="all, delete-orphan", order_by="VideoRendition.bandwidth.desc()")


class VideoRendition(Base):
    __tablename__ = "video_renditions"
    __table_args__ = (UniqueConstraint("asset_id", "name"),)
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    asset_id: Mapped[str] = mapped_column(ForeignKey("video_assets.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(32))             # "720p", "audio"
    kind: Mapped[str] = mapped_column(String(8))              # video | audio
    width: Mapped[int | None] = mapped_column(Integer, nullable=True)
    height: Mapped[int | None] = mapped_column(Integer, nullable=True)
    bandwidth: Mapped[int] = mapped_column(Integer)            # peak bit/s, as in the master playlist
    average_bandwidth: Mapped[int] = mapped_column(Integer)
    codecs: Mapped[str] = mapped_column(String(100))
    playlist_key: Mapped[str] = mapped_column(String(500))
    segment_count: Mapped[int] = mapped_column(Integer)
    asset: Mapped[VideoAsset] = relationship(back_populates="renditions")


# building → live → retired → deleted; building → failed → deleted; building → retired (superseded)
VERSION_STATUSES = ("building", "live", "retired", "failed", "deleted")


class VideoVersion(Base):
    """One transcode's outputs under their own prefix. Old ones are deleted after a grace period."""
    __tablename__ = "video_versions"
    __table_args__ = (UniqueConstraint("asset_id", "number"),)
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    asset_id: Mapped[str] = mapped_column(ForeignKey("video_assets.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    prefix: Mapped[str] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(16), default="building", index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    retired_at: Mapped[datetime | None] = mapped_column(nullable=True)
