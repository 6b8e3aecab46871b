"""Video intake: an upload URL for a new asset, start its transcode, read it back; a learner's
signed playback URLs and the tokenised paths they point at."""
from __future__ import annotations

from typing import Annotated
import time

from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from celeryconfig import settings
from domain.core import purpose_keys
from domain.core.fields import id_field, int_field, line, number
from domain.db import session_factory, unit_of_work
from domain.jobs.errors import InvalidPayload
from domain.storage import get_storage
from domain.video import assets, playback
from intake.auth import Caller, public, require, require_write
from intake.body import openapi_body, parse_json
from intake.errors import ApiError
from intake.openapi import answers
from intake.schemas.jobs import JobAccepted
from intake.schemas.learning import VideoCreated, VideoPlayback, VideoView
from intake.routes.jobs import accept, accepted_response

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
    url = get_storage().presigned_put(asset.source_key, body.content_type, expires=expires, size=body.size_bytes)
    return {"asset": out, "upload": {"method": "PUT", "url": url, "headers": {"Content-Type": body.content_type},
                                     "expires_in": expires},
            "links": {"self": f"/v1/videos/{out['id']}", "transcode": f"/v1/videos/{out['id']}/transcode"}}


@router.post("/v1/videos", responses=answers(VideoCreated, 201), status_code=201, summary="Create a video asset and get a presigned upload URL",
             openapi_extra=openapi_body(NewVideo))
async def create_video(request: Request, caller: Caller = require_write("video")):
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
async def transcode_video(asset_id: str, request: Request, caller: Caller = require_write("video"),
                          idempotency_key: str | None = Header(default=None, max_length=200)):
    opts = await parse_json(request, TranscodeOptions) if await request.body() else TranscodeOptions()
    job, created = await run_in_threadpool(_start, caller, asset_id, opts, idempotency_key)
    return accepted_response(job, created)


def _view(asset_id: str) -> dict:
    asset = _load(asset_id)
    links = {"self": f"/v1/videos/{asset_id}", "transcode": f"/v1/videos/{asset_id}/transcode"}
    if asset["status"] == "ready":
        links["playback"] = f"/v1/videos/{asset_id}/playback"
    return {"asset": asset, "links": links}


@router.get("/v1/videos/{asset_id}", responses=answers(VideoView), summary="A video asset and its renditions")
async def get_video(asset_id: str, caller: Caller = require("read")):
    return await run_in_threadpool(_view, asset_id)


class PlaybackRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    learner_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:@-]+$", examples=["learner-42"],
                            description="the learner the URLs are for (the web tier has checked the enrollment)")
    lesson_id: str | None = Field(default=None, max_length=32, examples=["lesson-1"],
                                  description="if given, must be the asset's lesson (a check for the caller)")


def _playback(asset_id: str, body: PlaybackRequest) -> dict:
    asset = _load(asset_id)
    if body.lesson_id is not None and body.lesson_id != asset["lesson_id"]:
        raise ApiError(422, "invalid_payload", "the video belongs to another lesson",
                       [{"field": "lesson_id", "message": f"the asset's lesson is {asset['lesson_id']}"}])
    if asset["status"] != "ready" and asset["version"] is None:
        raise ApiError(409, "not_ready", f"the video is {asset['status']}, not ready to play")
    ttl = settings.video_playback_url_seconds
    expires_at = int(time.time()) + ttl
    token = playback.mint(purpose_keys.from_settings(settings, playback.PURPOSE), playback.Claims(
        asset_id, asset["version"], body.learner_id, asset["lesson_id"], expires_at))
    base = f"{settings.public_base_url.rstrip('/')}/v1/play/{token}/"
    prefix = f"{assets.prefix(asset_id)}v/{asset['version']}/"
    rel = lambda key: base + key[len(prefix):]   # noqa: E731
    return {"hls_url": rel(asset["master_key"]), "dash_url": rel(asset["mpd_key"]),
            "poster_url": rel(asset["poster_key"]), "thumbnails_vtt_url": rel(asset["thumbnails_vtt_key"]),
            "version": asset["version"], "expires_at": expires_at, "expires_in": ttl}


@router.post("/v1/videos/{asset_id}/playback", responses=answers(VideoPlayback, errors=(409,)), summary="Signed playback URLs (HLS, DASH, poster, thumbnails) "
             "for one learner, expiring", openapi_extra=openapi_body(PlaybackRequest))
async def video_playback(asset_id: str, request: Request, caller: Caller = require("read")):
    body = await parse_json(request, PlaybackRequest)
    return await run_in_threadpool(_playback, asset_id, body)


MANIFESTS = {".m3u8": "application/vnd.apple.mpegurl", ".mpd": "application/dash+xml", ".vtt": "text/vtt"}


def _play(token: str, path: str):
    try:
        claims = playback.verify(purpose_keys.from_settings(settings, playback.PURPOSE), token)
        playback.check_path(path)
    except playback.InvalidToken as exc:
        raise ApiError(403, "forbidden", f"the playback URL is invalid or expired ({exc})") from None
    key = f"{assets.prefix(claims.asset_id)}v/{claims.version}/{path}"
    storage = get_storage()
    suffix = path[path.rfind("."):]
    if suffix in MANIFESTS:      # small, and what the player resolves relative URIs against
        try:
            data = storage.get_bytes(key)
        except Exception:
            raise ApiError(404, "not_found", "no such file in this video version") from None
        return Response(data, media_type=MANIFESTS[suffix], headers={"Cache-Control": "private, max-age=60"})
    left = max(1, claims.expires_at - int(time.time()))
    return RedirectResponse(storage.presigned_get(key, expires=min(left, 3600)), status_code=302,
                            headers={"Cache-Control": "private, no-store"})


@router.get("/v1/play/{token}/{path:path}", include_in_schema=False)
def play(token: str, path: str, _limit: None = public("playback", "video_playback_rate_per_minute")):
    """A tokenised playback path: manifests are served, media files redirect to storage."""
    return _play(token, path)
