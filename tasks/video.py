"""Tasks of the video family (queue ``video``)."""
from __future__ import annotations

from botocore.exceptions import ConnectionError as S3ConnectionError

from domain.jobs.errors import JobCancelled, PermanentError
from domain.video import assets, engine
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
        preset=settings.video_preset, tmp_dir=settings.video_tmp_dir)


@job_task("transcode", transient=(S3ConnectionError,))
def transcode(ctx, payload):
    with ctx.uow() as s:
        asset = assets.require(s, payload.asset_id)
        if asset.status == "ready" and not payload.force and ctx.storage.exists(asset.master_key):
            return {**asset.details, "already_ready": True}      # a redelivery after success
        source_key = assets.mark_processing(s, payload.asset_id).source_key
    try:
        result = engine.transcode(ctx.storage, payload.asset_id, source_key, config(ctx.settings, payload),
                                  progress=ctx.progress, cancelled=lambda: ctx.cancelled)
    except (PermanentError, JobCancelled) as exc:
        if not ctx.lost_event.is_set():      # a worker that lost its lease leaves the asset to the new one
            status = "cancelled" if isinstance(exc, JobCancelled) else "failed"
            with ctx.uow() as s:
                assets.mark_failed(s, payload.asset_id, exc.code, exc.message, status=status)
        raise
    with ctx.uow() as s:
        asset = assets.publish(s, payload.asset_id, result)
        ctx.emit("video.ready", {"asset_id": asset.id, "lesson_id": asset.lesson_id}, session=s)
    return result
