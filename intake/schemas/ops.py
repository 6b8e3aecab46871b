"""Operator views: queue health, pause/resume answers, bulk actions and their filters."""
from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict

from intake.schemas import F


class QueueHealth(BaseModel):
    """One broker queue as an operator sees it: what waits, what runs, what ended lately."""

    queue: str = F("the broker queue (one per job family, plus maintenance)", "video")
    paused: bool = F("an operator paused it: workers take none of its jobs until it is resumed", False)
    broker_depth: int | None = F("messages waiting in the broker (null when the broker did not answer)", 3)
    queued: int = F("jobs queued and due in the database", 3)
    retrying: int = F("jobs waiting for a retry", 0)
    running: int = F("jobs a worker is running now", 1)
    dead_letters: int = F("dead-lettered jobs kept for an operator", 0)
    oldest_waiting_seconds: float | None = F("age of the oldest job waiting to start (null: none waits)", 12.5)
    succeeded_per_min_5m: float = F("jobs succeeded per minute over the last 5 minutes", 4.2)
    failed_per_min_5m: float = F("jobs failed or dead-lettered per minute over the last 5 minutes", 0.0)
    succeeded_per_min_60m: float = F("jobs succeeded per minute over the last 60 minutes", 3.9)
    failed_per_min_60m: float = F("jobs failed or dead-lettered per minute over the last 60 minutes", 0.05)


class QueuesHealth(BaseModel):
    queues: list[QueueHealth] = F("every queue, in a fixed order")


class QueuePaused(BaseModel):
    queue: str = F("the queue", "video")
    paused: bool = F("whether it is paused now", True)
    workers: list[str] = F("workers that answered the broadcast within a second", ["w1@host"])


class JobFilterBody(BaseModel):
    """Which jobs: every field given must match; ``since``/``until`` bound the time accepted."""

    model_config = ConfigDict(extra="forbid")
    kind: str | None = F("a job kind", "transcode", default=None)
    state: str | None = F("a job state", "dead_lettered", default=None)
    queue: str | None = F("a broker queue", "video", default=None)
    error_code: str | None = F("the code of the job's last error", "retries_exhausted", default=None)
    caller: str | None = F("id of the API key that enqueued the jobs", "k_5a0e", default=None)
    since: datetime | None = F("accepted at or after this time (ISO 8601 with offset)", "2026-01-05T00:00:00Z",
                               default=None)
    until: datetime | None = F("accepted before this time (ISO 8601 with offset)", "2026-01-06T00:00:00Z",
                               default=None)


class BulkRequest(JobFilterBody):
    dry_run: bool = F("only count the jobs that would change (the default: say false to act)", True, default=True)
    limit: int = F("act on at most this many jobs", 1000, default=10_000, ge=1, le=100_000)


class BulkResult(BaseModel):
    action: str = F("retry or cancel", "retry")
    filter: dict = F("the filter as applied", {"state": "dead_lettered"})
    dry_run: bool = F("true: nothing was changed", True)
    matched: int = F("jobs matching the filter that the action applies to", 12)
    changed: int = F("jobs changed (0 in a dry run)", 0)
