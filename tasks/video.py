"""Tasks of the video family (queue ``video``)."""
from __future__ import annotations

from datetime import timedelta

from botocore.exceptions import ConnectionError as S3ConnectionError

from celeryconfig import settings
from domain.db import unit_of_work
from domain.jobs.errors import JobCancelled, PermanentError
from domain.storage import get_storage
from domain.video import assets, engine, versions
from workers.app import app
from workers.base import job_task


def config(settings, payload) -> engine.Config:
    """Engine settings: the platform's, with the payload's per-asset overrides."""
    return engine.Config(
        ffmpeg_bin=settings.ffmpeg_bin, ffprobe_bin=settings.ffprobe_bin,
        rungs=payload.ladder or [int(h) for h in settings.video_ladder.split(",") if h.strip()],
        segment_seconds=payload.segment_seconds or settings.video_segment_seconds,
        thumbnail_interval=payload.thumbnail_interval or settings.video_thumbnail_interval,
        max_duration=settings.video_max_duration_seconds, max_bytes=settings.video_max_bytes,
        timeout=settings.video_ffmpeg_timeout, probe_timeout=settings.video_probe_timeout,
        preset=settings.video_preset, tmp_dir=settings.video_tmp_dir, sprite_max_side=settings.video_sprite_max_side)


@job_task("transcode", transient=(S3ConnectionError,))
def transcode(ctx, payload):
    with ctx.uow() as session:
        asset = assets.require(session, payload.asset_id)
        if asset.status == "ready" and not payload.force and ctx.storage.exists(asset.master_key):
            return {**asset.details, "already_ready": True}      # a redelivery after success
        source_key = assets.mark_processing(session, payload.asset_id).source_key
        version = versions.start(session, payload.asset_id)
        number, prefix = version.number, version.prefix
    try:
        result = engine.transcode(ctx.storage, payload.asset_id, source_key, config(ctx.settings, payload),
                                  prefix=prefix, control=ctx)
    except BaseException as exc:
        with ctx.uow() as session:
            versions.fail(session, payload.asset_id, number)
            # a worker that lost its lease leaves the asset to the new one
            if isinstance(exc, (PermanentError, JobCancelled)) and not ctx.lost_event.is_set():
                status = "cancelled" if isinstance(exc, JobCancelled) else "failed"
                assets.mark_failed(session, payload.asset_id, exc.code, exc.message, status=status)
        raise
    with ctx.uow() as session:
        if versions.publish(session, payload.asset_id, number, result):
            lesson_id = assets.require(session, payload.asset_id).lesson_id
            ctx.emit("video.ready", {"asset_id": payload.asset_id, "lesson_id": lesson_id, "version": number},
                     session=session)
        else:
            result["superseded"] = True
    return {**result, "version": number}


# --- beat tick (a plain task: a missed or doubled run is harmless) -------------------------

@app.task(name="tasks.video.sweep_versions", queue="video", acks_late=False, ignore_result=True)
def sweep_versions() -> dict:
    """Delete versions out of service for longer than the grace period (a bounded batch)."""
    grace = timedelta(seconds=settings.video_version_grace_seconds)
    abandoned = grace + timedelta(seconds=2 * settings.video_ffmpeg_timeout)
    with unit_of_work(settings.database_url) as session:
        return {"deleted": versions.sweep(session, get_storage(), grace=grace, abandoned_after=abandoned)}
