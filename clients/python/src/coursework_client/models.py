"""Typed answers of the intake API (the components of its OpenAPI document of the same names).

Unknown fields are kept (``extra="allow"``), so a newer server does not break an older client.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field

JobState = Literal["queued", "running", "retrying", "succeeded", "failed", "dead_lettered", "cancelled"]
TERMINAL_STATES = frozenset({"succeeded", "failed", "dead_lettered", "cancelled"})


class _Model(BaseModel):
    model_config = ConfigDict(extra="allow")


class Job(_Model):
    id: str
    kind: str
    queue: str
    state: JobState
    payload: Optional[dict[str, Any]] = None
    result: Any = None
    error: Optional[dict[str, Any]] = None
    attempts: int = 0
    max_attempts: int = 0
    progress: int = 0
    progress_message: Optional[str] = None
    idempotency_key: Optional[str] = None
    caller: Optional[str] = None
    parent_id: Optional[str] = None
    run_at: Optional[datetime] = None
    created_at: Optional[datetime] = None
    updated_at: Optional[datetime] = None
    started_at: Optional[datetime] = None
    finished_at: Optional[datetime] = None

    @property
    def done(self) -> bool:
        return self.state in TERMINAL_STATES


class JobLinks(_Model):
    self: str
    events: str


class JobAccepted(_Model):
    job: Job
    links: JobLinks
    replayed: bool = Field(default=False, description="the Idempotency-Key was seen before: this is that job")


class JobPage(_Model):
    jobs: list[Job]
    next_cursor: Optional[str] = None


class KindInfo(_Model):
    name: str
    queue: str
    description: str = ""
    max_attempts: int = 0
    payload_schema: dict[str, Any] = {}


class JobEvent(_Model):
    id: int
    job_id: Optional[str] = None
    user_id: Optional[str] = None
    type: str
    data: dict[str, Any] = {}
    created_at: Optional[datetime] = None


class ErrorDetail(_Model):
    field: str
    message: str


# ----------------------------------------------------------------------------- batch

class BatchItem(_Model):
    index: int
    status: int
    outcome: Literal["created", "replayed", "conflict", "invalid", "forbidden"]
    job: Optional[Job] = None
    error: Optional[dict[str, Any]] = None


class BatchAccepted(_Model):
    items: list[BatchItem]
    created: int
    replayed: int
    failed: int


# ----------------------------------------------------------------------------- video

class Rendition(_Model):
    name: str
    kind: str
    width: Optional[int] = None
    height: Optional[int] = None
    bandwidth: int
    codecs: Optional[str] = None


class VideoAsset(_Model):
    id: str
    lesson_id: str
    filename: str
    content_type: str
    size_bytes: int
    status: str
    duration_seconds: Optional[float] = None
    width: Optional[int] = None
    height: Optional[int] = None
    version: Optional[int] = None
    error: Optional[dict[str, Any]] = None
    renditions: list[Rendition] = []


class UploadTarget(_Model):
    method: str
    url: str
    headers: dict[str, str] = {}
    expires_in: int


class VideoCreated(_Model):
    asset: VideoAsset
    upload: UploadTarget


class VideoView(_Model):
    asset: VideoAsset
    links: dict[str, Optional[str]] = {}


class VideoPlayback(_Model):
    hls_url: str
    dash_url: str
    poster_url: str
    thumbnails_vtt_url: str
    version: int
    expires_at: int
    expires_in: int


# ----------------------------------------------------------------------------- code submissions

class Submission(_Model):
    id: str
    exercise_id: str
    user_id: str
    language: str
    status: str
    verdict: Optional[str] = None
    score: Optional[int] = None
    attempt: Optional[int] = None
    results: list[dict[str, Any]] = []
    feedback: str = ""
    compile_output: str = ""
    job_id: Optional[str] = None


class SubmissionAccepted(_Model):
    submission: Submission
    job: Job
    replayed: bool = False


# ----------------------------------------------------------------------------- tutor

class TutorSession(_Model):
    id: str
    user_id: str
    course_id: str
    lesson_id: Optional[str] = None
    exercise_id: Optional[str] = None
    topic: str = ""
    mode: str = "explain"
    status: str


class TutorMessage(_Model):
    id: str
    session_id: str
    role: str
    content: str
    status: str
    citations: list[Any] = []
    error: Optional[str] = None
    job_id: Optional[str] = None


class TutorMessageAccepted(_Model):
    message: Optional[TutorMessage] = None
    reply: TutorMessage
    job: Job
    replayed: bool = False


class StreamToken(_Model):
    token: str
    expires_at: int
    stream_url: str


# ----------------------------------------------------------------------------- notifications

class InboxItem(_Model):
    id: str
    notification: dict[str, Any]
    read_at: Optional[datetime] = None
    created_at: datetime
