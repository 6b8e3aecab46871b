"""The API's calls, written once for both clients (sans-I/O).

A flow is a generator that yields ``Call`` (a request; it is sent the ``httpx.Response``) or
``Sleep``, and returns the result. ``Client`` drives flows with blocking I/O, ``AsyncClient``
with ``await``; retries, the Idempotency-Key and the error envelope are handled by the driver.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generator, Optional

import httpx

from coursework_client import models

Flow = Generator[Any, Any, Any]


@dataclass
class Call:
    method: str
    path: str                       # a path on the API, or an absolute URL with ``external``
    params: Optional[dict] = None
    json: Any = None
    content: Optional[bytes] = None
    headers: dict = field(default_factory=dict)
    idempotency_key: Optional[str] = None
    external: bool = False          # a presigned URL: no API key, no envelope


@dataclass
class Sleep:
    seconds: float


def _clean(params: dict) -> dict:
    return {k: v for k, v in params.items() if v is not None}


def _replayed(r: httpx.Response) -> bool:
    return r.headers.get("idempotent-replayed", "").lower() == "true"


def enqueue(kind: str, payload: Optional[dict], run_at: Optional[datetime], key: Optional[str]) -> Flow:
    body: dict[str, Any] = {"kind": kind, "payload": payload or {}}
    if run_at is not None:
        body["run_at"] = run_at.isoformat()
    r = yield Call("POST", "/v1/jobs", json=body, idempotency_key=key)
    return models.JobAccepted.model_validate({**r.json(), "replayed": _replayed(r)})


def enqueue_batch(jobs: list[dict]) -> Flow:
    r = yield Call("POST", "/v1/jobs/batch", json={"jobs": jobs})
    return models.BatchAccepted.model_validate(r.json())


def get_job(job_id: str) -> Flow:
    r = yield Call("GET", f"/v1/jobs/{job_id}")
    return models.Job.model_validate(r.json()["job"])


def list_jobs(**filters) -> Flow:
    r = yield Call("GET", "/v1/jobs", params=_clean(filters))
    return models.JobPage.model_validate(r.json())


def job_action(job_id: str, action: str) -> Flow:
    r = yield Call("POST", f"/v1/jobs/{job_id}/{action}")
    return models.Job.model_validate(r.json()["job"])


def kinds() -> Flow:
    r = yield Call("GET", "/v1/kinds")
    return [models.KindInfo.model_validate(k) for k in r.json()["kinds"]]


# ------------------------------------------------------------------------------------ video

def upload_video(lesson_id: str, data: bytes, filename: str, content_type: str) -> Flow:
    """Create the asset, then PUT the file to its presigned URL (without the API key)."""
    r = yield Call("POST", "/v1/videos", json={"lesson_id": lesson_id, "filename": filename,
                                               "content_type": content_type, "size_bytes": len(data)})
    created = models.VideoCreated.model_validate(r.json())
    yield Call(created.upload.method, created.upload.url, content=data, headers=dict(created.upload.headers),
               external=True)
    return created.asset


def transcode(asset_id: str, options: dict, key: Optional[str]) -> Flow:
    r = yield Call("POST", f"/v1/videos/{asset_id}/transcode", json=_clean(options), idempotency_key=key)
    return models.JobAccepted.model_validate({**r.json(), "replayed": _replayed(r)})


def get_video(asset_id: str) -> Flow:
    r = yield Call("GET", f"/v1/videos/{asset_id}")
    return models.VideoView.model_validate(r.json())


def playback(asset_id: str, learner_id: str, lesson_id: Optional[str]) -> Flow:
    r = yield Call("POST", f"/v1/videos/{asset_id}/playback", json=_clean({"learner_id": learner_id,
                                                                          "lesson_id": lesson_id}))
    return models.VideoPlayback.model_validate(r.json())


# ------------------------------------------------------------------------------------ code

def submit_code(exercise_id: str, user_id: str, language: str, code: str, key: Optional[str]) -> Flow:
    r = yield Call("POST", "/v1/submissions", idempotency_key=key,
                   json={"exercise_id": exercise_id, "user_id": user_id, "language": language, "code": code})
    return models.SubmissionAccepted.model_validate({**r.json(), "replayed": _replayed(r)})


def get_submission(submission_id: str) -> Flow:
    r = yield Call("GET", f"/v1/submissions/{submission_id}")
    return models.Submission.model_validate(r.json()["submission"])


# ------------------------------------------------------------------------------------ tutor

def start_tutor_session(user_id: str, course_id: str, extra: dict) -> Flow:
    r = yield Call("POST", "/v1/tutor/sessions", json={"user_id": user_id, "course_id": course_id, **_clean(extra)})
    return models.TutorSession.model_validate(r.json()["session"])


def ask_tutor(session_id: str, content: str, key: Optional[str]) -> Flow:
    r = yield Call("POST", f"/v1/tutor/sessions/{session_id}/messages", json={"content": content},
                   idempotency_key=key)
    return models.TutorMessageAccepted.model_validate({**r.json(), "replayed": _replayed(r)})


def stream_token(session_id: str) -> Flow:
    r = yield Call("POST", f"/v1/tutor/sessions/{session_id}/stream-token")
    return models.StreamToken.model_validate(r.json())


# ------------------------------------------------------------------------------------ notifications

def notifications(user_id: str, unread: bool, limit: int, before: Optional[str]) -> Flow:
    r = yield Call("GET", f"/v1/users/{user_id}/notifications",
                   params=_clean({"unread": "true" if unread else None, "limit": limit, "before": before}))
    body = r.json()
    return [models.InboxItem.model_validate(i) for i in body["items"]], body.get("next_before")
