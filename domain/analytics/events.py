"""The wire schema of a learning event and of a batch, with per-type required fields.

``batch_errors`` turns pydantic's errors into the envelope's ``events[3].occurred_at`` fields.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from enum import Enum
from zoneinfo import ZoneInfo

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

IDS = dict(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_\-]+$")
MAX_FUTURE = timedelta(minutes=10)
MAX_BATCH = 10_000   # hard ceiling; the configured limit (analytics_max_batch) is checked at intake


class EventType(str, Enum):
    enrollment = "enrollment"
    lesson_started = "lesson_started"
    lesson_completed = "lesson_completed"
    video_watched = "video_watched"
    quiz_graded = "quiz_graded"
    assignment_graded = "assignment_graded"
    submission_evaluated = "submission_evaluated"
    login = "login"
    certificate_issued = "certificate_issued"
    coupon_used = "coupon_used"


# fields each type must carry (beyond event_id, type, user_id, occurred_at)
REQUIRED: dict[EventType, tuple[str, ...]] = {
    EventType.enrollment: ("course_id",),
    EventType.lesson_started: ("course_id", "lesson_id"),
    EventType.lesson_completed: ("course_id", "lesson_id"),
    EventType.video_watched: ("course_id", "lesson_id", "seconds"),
    EventType.quiz_graded: ("course_id", "score"),
    EventType.assignment_graded: ("course_id", "score"),
    EventType.submission_evaluated: ("exercise_id", "topic", "score"),
    EventType.login: (),
    EventType.certificate_issued: ("course_id",),
    EventType.coupon_used: ("course_id", "coupon_code"),
}


class LearningEventIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    event_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_\-:.]+$",
                          description="the sender's unique id; a resent event is counted once")
    type: EventType
    user_id: str = Field(**IDS)
    occurred_at: AwareDatetime
    course_id: str | None = Field(default=None, **IDS)
    lesson_id: str | None = Field(default=None, **IDS)
    exercise_id: str | None = Field(default=None, **IDS)
    topic: str | None = Field(default=None, min_length=1, max_length=64)
    coupon_code: str | None = Field(default=None, min_length=1, max_length=64)
    seconds: int | None = Field(default=None, ge=0, le=86_400)
    score: float | None = Field(default=None, ge=0, le=100)

    @field_validator("occurred_at")
    @classmethod
    def _not_in_future(cls, v: datetime) -> datetime:
        v = v.astimezone(timezone.utc)
        if v > datetime.now(timezone.utc) + MAX_FUTURE:
            raise ValueError("occurred_at is in the future")
        if v.year < 2000:
            raise ValueError("occurred_at is before 2000")
        return v

    @model_validator(mode="after")
    def _required_for_type(self) -> "LearningEventIn":
        missing = [f for f in REQUIRED[self.type] if getattr(self, f) is None]
        if missing:
            # raised per field so the error carries events[i].<field>
            raise MissingField(missing[0], f"required for a {self.type.value} event")
        return self


class MissingField(ValueError):
    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


class EventBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    events: list[LearningEventIn] = Field(min_length=1, max_length=MAX_BATCH)


def batch_errors(errors: list[dict]) -> list[dict]:
    """pydantic errors → [{"field": "events[3].occurred_at", "message"}]."""
    out = []
    for err in errors:
        loc = list(err.get("loc", ()))
        msg = err.get("msg", "invalid")
        exc = (err.get("ctx") or {}).get("error")
        if isinstance(exc, MissingField):
            loc.append(exc.field)
            msg = str(exc)
        parts: list[str] = []
        for p in loc:
            if isinstance(p, int) and parts:
                parts[-1] += f"[{p}]"
            else:
                parts.append(str(p))
        out.append({"field": ".".join(parts) or "body", "message": msg})
    return out


def local_day(occurred_at: datetime, tz: str | None) -> date:
    try:
        zone = ZoneInfo(tz or "UTC")
    except Exception:   # an unknown zone name on a user row: count the day in UTC
        zone = ZoneInfo("UTC")
    return occurred_at.astimezone(zone).date()
