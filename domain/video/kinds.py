"""Job kinds of the video family."""
from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from domain.core.fields import id_field, number
from domain.jobs.errors import InvalidPayload
from domain.jobs.kinds import Enqueue, JobKind  # noqa: F401


class TranscodePayload(BaseModel):
    """Transcode an uploaded source into the HLS ladder, poster and sprite sheet.

    ``ladder`` (short-side heights), ``segment_seconds`` and ``thumbnail_interval`` override
    the settings for this asset; ``force`` re-runs even when the asset is already ready."""

    model_config = ConfigDict(extra="forbid")
    asset_id: str = id_field(description="the video asset (POST /v1/videos)", examples=["9b2d4c55a1e2f3a4"])
    ladder: list[Annotated[int, Field(ge=64, le=4320)]] | None = Field(
        default=None, min_length=1, max_length=8, description="rendition heights (short side); default: the "
        "settings' ladder, capped at the source", examples=[[1080, 720, 360]])
    segment_seconds: float | None = number(default=None, ge=1, le=30, description="CMAF segment length",
                                           examples=[4])
    thumbnail_interval: float | None = number(default=None, ge=0.5, le=600, examples=[10],
                                              description="seconds between sprite thumbnails")
    force: bool = Field(default=False, description="transcode again even if the asset is ready", examples=[False])


def _asset_exists(session, payload: TranscodePayload) -> None:
    from domain.video.models import VideoAsset

    if session.get(VideoAsset, payload.asset_id) is None:
        raise InvalidPayload("asset_id", f"no video asset {payload.asset_id!r}; create one with POST /v1/videos")


KINDS = [
    JobKind(name="transcode", payload=TranscodePayload, task="tasks.video.transcode", queue="video",
            max_attempts=3, validate=_asset_exists,
            description="Probe an uploaded video, encode the HLS ladder + audio-only, poster, sprite; publish."),
]
REACTIONS: dict = {}
