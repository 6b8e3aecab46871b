"""Video intake: an upload URL for a new asset, start its transcode, read it back with a playback URL."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from celeryconfig import settings
from domain.core.fields import id_field, int_field, line, number
from domain.db import session_factory, unit_of_work
from domain.jobs.errors import InvalidPayload
from domain.video import assets
from intake.auth import Caller, require
from intake.body import openapi_body, parse_json
from intake.errors import ApiError
from intake.openapi import answers
from intake.schemas.jobs import JobAccepted
from intake.schemas.learning import VideoCreated, VideoView
from intake.routes.jobs import accept, accepted_response
from workers.base import get_storage

router = APIRouter(tags=["video"])


class NewVideo(BaseModel):
    model_config = ConfigDict(extra="forbid")
    lesson_id: str = id_field(description="the lesson the video belongs to", examples=["lesson-1"])
    filename: str = line(255, min_length=1, description="the file's name", examples=["intro.mp4"])
    content_type: str = Field(pattern=r"^video/[A-Za-z0-9.+-]+$", max_length=100, examples=["video/mp4"],
                              description="the MIME type the upload will be PUT with, e.g. video/mp4")
    size_bytes: int = int_field(ge=1, description="the file's size; over COURSEWORK_VIDEO_MAX_BYTES is refused",
                                examples=[10485760])


class TranscodeOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ladder: list[Annotated[int, int_field(ge=64, le=4320)]] | None = Field(
        default=None, min_length=1, max_length=8, description="rendition heights; default: the settings' ladder",
        examples=[[720, 360]])
    segment_seconds: float | None = number(default=None, ge=1, le=30, description="CMAF segment length",
                                           examples=[4])
    thumbnail_interval: float | None = number(default=None, ge=0.5, le=600, examples=[10],
                                              description="seconds between sprite thumbnails")
    force: bool = Field(default=False, description="transcode again even if ready", examples=[False])


def _create(body: NewVideo) -> dict:
    if body.size_bytes > settings.video_max_bytes:
        raise ApiError(422, "validation_error", "the video is too large",
                       [{"field": "size_bytes", "message": f"at most {settings.video_max_bytes} bytes"}])
    try:
        with unit_of_work(settings.database_url) as s:
            asset = assets.create(s, body.lesson_id, body.filename, body.content_type, body.size_bytes)
            out = assets.to_dict(asset)
    except InvalidPayload as exc:
        raise ApiError(422, "invalid_payload", exc.message, exc.details) from None
    expires = settings.video_upload_url_seconds
    url = get_storage().presigned_put(asset.source_key, body.content_type, expires=expires)
    return {"asset": out, "upload": {"method": "PUT", "url": url, "headers": {"Content-Type": body.content_type},
                                     "expires_in": expires},
            "links": {"self": f"/v1/videos/{out['id']}", "transcode": f"/v1/videos/{out['id']}/transcode"}}


@router.post("/v1/videos", responses=answers(VideoCreated, 201), status_code=201, summary="Create a video asset and get a presigned upload URL",
             openapi_extra=openapi_body(NewVideo))
async def create_video(request: Request, caller: Caller = require("enqueue")):
    body = await parse_json(request, NewVideo)
    return JSONResponse(await run_in_threadpool(_create, body), status_code=201)


def _load(asset_id: str) -> dict:
    with session_factory(settings.database_url)() as s:
        asset = assets.get(s, asset_id)
        if asset is None:
            raise ApiError(404, "not_found", f"no video asset {asset_id!r}")
        return assets.to_dict(asset)


def _start(caller: Caller, asset_id: str, opts: TranscodeOptions, idempotency_key: str | None):
    asset = _load(asset_id)
    storage = get_storage()
    if not storage.exists(asset["source_key"]):
        raise ApiError(422, "invalid_payload", "the source has not been uploaded yet",
                       [{"field": "asset_id", "message": "PUT the file to the upload URL first"}])
    if storage.size(asset["source_key"]) > settings.video_max_bytes:
        raise ApiError(422, "invalid_payload", "the uploaded video is too large",
                       [{"field": "asset_id", "message": f"at most {settings.video_max_bytes} bytes"}])
    payload = {"asset_id": asset["id"], **opts.model_dump(exclude_none=True)}
    return accept(caller.key_id, "transcode", payload, idempotency_key, scopes=caller.scopes)


@router.post("/v1/videos/{asset_id}/transcode", responses=answers(JobAccepted, 202, errors=(409,)), status_code=202, summary="Transcode the uploaded source",
             openapi_extra=openapi_body(TranscodeOptions))
async def transcode_video(asset_id: str, request: Request, caller: Caller = require("enqueue"),
                          idempotency_key: str | None = Header(default=None, max_length=200)):
    opts = await parse_json(request, TranscodeOptions) if await request.body() else TranscodeOptions()
    job, created = await run_in_threadpool(_start, caller, asset_id, opts, idempotency_key)
    return accepted_response(job, created)


def _view(asset_id: str) -> dict:
    asset = _load(asset_id)
    storage = get_storage()
    ttl = settings.video_playback_url_seconds
    urls = {}
    if asset["status"] == "ready":
        urls = {"playback_url": storage.presigned_get(asset["master_key"], expires=ttl),
                "poster_url": storage.presigned_get(asset["poster_key"], expires=ttl),
                "sprite_url": storage.presigned_get(asset["sprite_key"], expires=ttl),
                "thumbnails_vtt_url": storage.presigned_get(asset["thumbnails_vtt_key"], expires=ttl)}
    return {"asset": asset, **urls, "expires_in": ttl if urls else None}


@router.get("/v1/videos/{asset_id}", responses=answers(VideoView), summary="A video asset, its renditions and a playback URL when ready")
async def get_video(asset_id: str, caller: Caller = require("read")):
    return await run_in_threadpool(_view, asset_id)
