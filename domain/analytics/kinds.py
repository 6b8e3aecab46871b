"""Job kinds of the analytics family (queue ``analytics``)."""
from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from domain.analytics.events import IDS, EventBatch
from domain.jobs.kinds import Enqueue, JobKind  # noqa: F401

QUEUE = "analytics"
MAX_REPORT_DAYS = 366


class IngestEventsPayload(EventBatch):
    """The batch as the ingest job carries it (same schema as ``POST /v1/events``)."""


class RollupPayload(BaseModel):
    model_config = ConfigDict(extra="forbid")
    full: bool = Field(default=False, description="rebuild every rollup from all events instead of the watermark",
                       examples=[False])


class ReportPayload(BaseModel):
    model_config = ConfigDict(extra="forbid")
    report: Literal["course_popularity", "learner_progress"] = Field(description="which report",
                                                                      examples=["course_popularity"])
    start: date = Field(description="first day of the range", examples=["2026-01-01"])
    end: date = Field(description="last day of the range (inclusive)", examples=["2026-01-31"])
    course_id: str | None = Field(default=None, description="course_popularity: only this course",
                                  examples=["c-1"], **IDS)
    top: int = Field(default=20, ge=1, le=100, description="rows shown in the chart", examples=[20])

    @model_validator(mode="after")
    def _range(self) -> "ReportPayload":
        if self.end < self.start:
            raise ValueError("end must not be before start")
        if (self.end - self.start).days >= MAX_REPORT_DAYS:
            raise ValueError(f"a report covers at most {MAX_REPORT_DAYS} days")
        return self


KINDS = [
    JobKind(name="ingest_events", payload=IngestEventsPayload, task="tasks.analytics.ingest_events", queue=QUEUE,
            max_attempts=5, description="Bulk-write a batch of learning events (POST /v1/events enqueues it)."),
    JobKind(name="rollup", payload=RollupPayload, task="tasks.analytics.rollup", queue=QUEUE, max_attempts=3,
            extra_scope="operate", description="Fold new learning events into the rollup tables (beat runs it too)."),
    JobKind(name="report", payload=ReportPayload, task="tasks.analytics.report", queue=QUEUE, max_attempts=3,
            description="Course popularity or learner progress over a date range: CSV + PNG chart, presigned URLs."),
]
REACTIONS: dict = {}
