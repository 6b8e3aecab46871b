"""Jobs: one job, its links, pages of jobs, the kinds catalogue, job events."""
from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel

from intake.schemas import F

JobState = Literal["queued", "running", "retrying", "succeeded", "failed", "dead_lettered", "cancelled"]
ID = "j_0c1f7a3e9b2d4c55"


class Job(BaseModel):
    """A job as stored: its lifecycle state, progress, attempts, and result or error."""

    id: str = F("the job's id", "0c1f7a3e9b2d4c55a1e2f3a4b5c6d7e8")
    kind: str = F("the job kind (see GET /v1/kinds)", "transcode")
    queue: str = F("the broker queue its task runs on", "video")
    state: JobState = F("lifecycle state; succeeded, failed, dead_lettered and cancelled are final", "queued")
    payload: dict[str, Any] | None = F("the normalised payload the job runs with (left out of batch and event-"
                                       "ingest answers)", {"asset_id": "a1"}, default=None)
    result: Any = F("what the job produced, once succeeded (its shape depends on the kind)", None)
    error: dict[str, Any] | None = F("the last error (type, message, retryable), if any", None)
    attempts: int = F("how many times a worker has started it", 0)
    max_attempts: int = F("attempts allowed before it is dead-lettered", 3)
    progress: int = F("0-100, reported by long jobs", 0)
    progress_message: str | None = F("what the job is doing now", "")
    idempotency_key: str | None = F("the caller's Idempotency-Key, if it sent one", "enroll-42")
    caller: str | None = F("id of the API key that enqueued it ('system' for jobs started by events)",
                           "k_5a0e")
    parent_id: str | None = F("the job that started this one, for fan-out sub-jobs", None)
    run_at: str | None = F("ISO 8601 time it is due, when scheduled", None)
    created_at: str | None = F("ISO 8601 time it was accepted", "2026-01-05T10:00:00+00:00")
    updated_at: str | None = F("ISO 8601 time of its last change", "2026-01-05T10:00:00+00:00")
    started_at: str | None = F("ISO 8601 time its last attempt started", None)
    finished_at: str | None = F("ISO 8601 time it reached a final state", None)


class JobLinks(BaseModel):
    self: str = F("this job", "/v1/jobs/0c1f7a3e9b2d4c55a1e2f3a4b5c6d7e8")
    events: str = F("its server-sent event stream", "/v1/jobs/0c1f7a3e9b2d4c55a1e2f3a4b5c6d7e8/events")


class JobAccepted(BaseModel):
    """202: the job is durable (committed with its outbox row) and will be published to its queue.
    A replay of the same Idempotency-Key answers the same job with ``Idempotent-Replayed: true``."""

    job: Job = F("the job")
    links: JobLinks = F("where to follow it")


class JobView(BaseModel):
    job: Job = F("the job")
    links: JobLinks = F("where to follow it")


class JobPage(BaseModel):
    jobs: list[Job] = F("jobs, newest first")
    next_cursor: str | None = F("pass as ?cursor= for the next page; null on the last page", None)


class KindInfo(BaseModel):
    name: str = F("the kind's wire name, the `kind` of POST /v1/jobs", "ping")
    queue: str = F("its queue", "maintenance")
    description: str = F("what it does", "Echo a value back")
    max_attempts: int = F("attempts before dead-lettering", 4)
    payload_schema: dict[str, Any] = F("JSON Schema of its payload", {"type": "object"})


class KindList(BaseModel):
    kinds: list[KindInfo] = F("every job kind, by name")


class JobEvent(BaseModel):
    """One server-sent event (``event:`` is ``type``, ``id:`` is ``id``, ``data:`` is this object)."""

    id: int = F("monotonic event id; resume with the Last-Event-ID header", 1042)
    job_id: str | None = F("the job it is about", "0c1f7a3e9b2d4c55a1e2f3a4b5c6d7e8")
    user_id: str | None = F("the learner it is about, for user streams", None)
    type: str = F("job.<state>, job.progress, or a domain event such as notification.created", "job.succeeded")
    data: dict[str, Any] = F("the event's data", {"state": "succeeded"})
    created_at: str | None = F("ISO 8601 time", "2026-01-05T10:00:01+00:00")
