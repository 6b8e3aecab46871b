"""Job kinds of the notifications family, and the events it reacts to."""
from __future__ import annotations

import logging
from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from domain.core.fields import id_field, line, text
from domain.jobs.errors import InvalidPayload
from domain.jobs.kinds import Enqueue, JobKind
from domain.notifications import types



def _id(description: str, example: str):
    return id_field(description=description, examples=[example])

QUEUE = "notifications"
log = logging.getLogger(__name__)


class NotifyPayload(BaseModel):
    """One notification to one user (what reactions to other families' events start)."""

    model_config = ConfigDict(extra="forbid")
    user_id: str = _id("the recipient", "u-1")
    type: str = line(48, min_length=1, description="a notification type", examples=["quiz_graded"])
    data: dict = Field(default_factory=dict, description="template variables (score_pct, course_title, ...)",
                       examples=[{"score_pct": 90}])
    title: str | None = line(300, default=None, description="default: the type's subject line",
                             examples=["Your quiz was graded"])
    body: str = text(20_000, default="", description="the text; default: the type's template",
                     examples=["You scored 90%."])
    link: str | None = line(1000, default=None, description="absolute, or a path on the site",
                            examples=["/courses/c-1"])
    dedupe_key: str | None = line(200, default=None, description="same key → same notification",
                                  examples=["quiz.graded:a1:u-1"])

    @field_validator("type")
    @classmethod
    def _known(cls, v: str) -> str:
        if v not in types.TYPES or v == "daily_digest":
            raise ValueError(f"unknown type; one of {', '.join(sorted(set(types.TYPES) - {'daily_digest'}))}")
        return v

    @field_validator("data")
    @classmethod
    def _small(cls, v: dict) -> dict:
        if len(str(v)) > 20_000:
            raise ValueError("at most 20,000 characters of template data")
        return v


class AnnouncePayload(BaseModel):
    """A course announcement to every enrolled learner (in-app + email per preferences)."""

    model_config = ConfigDict(extra="forbid")
    course_id: str = _id("the course whose learners are told", "c-1")
    title: str = line(300, min_length=1, description="the title", examples=["Exam moved"])
    body: str = text(20_000, min_length=1, description="the text", examples=["The exam is on Friday."])
    link: str | None = line(1000, default=None, description="where it leads", examples=["/courses/c-1"])
    priority: Literal["normal", "high", "urgent"] = Field(default="normal", examples=["normal"],
                                                          description="urgent ignores preferences")
    sender_id: str | None = id_field(default=None, description="the instructor sending it", examples=["u-9"])


class ChunkPayload(BaseModel):
    """One page of an announcement's recipients: enrolled user ids in ``(after, until]``."""

    model_config = ConfigDict(extra="forbid")
    notification_id: str = _id("the announcement", "n1")
    course_id: str = _id("its course", "c-1")
    after: str = Field(max_length=32, pattern=r"^[A-Za-z0-9_-]*$", examples=[""],
                       description="user ids after this one ('' for the first page)")
    until: str = _id("up to this user id, inclusive", "u-500")


class DigestPayload(BaseModel):
    model_config = ConfigDict(extra="forbid")
    user_id: str = _id("the recipient", "u-1")
    day: date = Field(description="the day the digest covers", examples=["2026-01-05"])


def _user_exists(session, payload: NotifyPayload) -> None:
    from domain.core.models import User

    if session.get(User, payload.user_id) is None:
        raise InvalidPayload("user_id", f"no user {payload.user_id!r}")


def _course_exists(session, payload: AnnouncePayload) -> None:
    from domain.core.models import Course, User

    if session.get(Course, payload.course_id) is None:
        raise InvalidPayload("course_id", f"no course {payload.course_id!r}")
    if payload.sender_id and session.get(User, payload.sender_id) is None:
        raise InvalidPayload("sender_id", f"no user {payload.sender_id!r}")


KINDS = [
    JobKind(name="notify", payload=NotifyPayload, task="tasks.notifications.notify", queue=QUEUE, max_attempts=8,
            validate=_user_exists, description="Notify one user (in-app + email per preferences)."),
    JobKind(name="announce", payload=AnnouncePayload, task="tasks.notifications.announce", queue=QUEUE,
            max_attempts=5, validate=_course_exists,
            description="Announce to every learner of a course: fans out one sub-job per page of recipients."),
    JobKind(name="notify_chunk", payload=ChunkPayload, task="tasks.notifications.notify_chunk", queue=QUEUE,
            max_attempts=10, extra_scope="operate",
            description="Internal: deliver one page of an announcement (started by announce)."),
    JobKind(name="send_digest", payload=DigestPayload, task="tasks.notifications.send_digest", queue=QUEUE,
            max_attempts=8, extra_scope="operate",
            description="Send one user's daily digest email (started by the daily beat entry)."),
]


# --------------------------------------------------------------------------- reactions

def _notify(type_name: str, event: dict, key: str, link: str | None = None) -> list[Enqueue]:
    """A ``notify`` job for the learner named in the event (none when the event names nobody)."""
    user_id = event.get("user_id")
    if not user_id:
        return []
    payload = {"user_id": user_id, "type": type_name, "data": event, "link": link, "dedupe_key": key[:200]}
    try:        # runs inside the emitting family's transaction: a malformed event must not break it
        NotifyPayload.model_validate(payload)
    except ValueError as exc:
        log.warning("not notifying on %s: %s", type_name, exc)
        return []
    return [Enqueue("notify", payload, idempotency_key=f"notify:{key}"[:200])]


def _course_link(data: dict, tail: str = "") -> str | None:
    return f"/courses/{data['course_id']}{tail}" if data.get("course_id") else None


REACTIONS = {
    "quiz.graded": lambda d: _notify("quiz_graded", d, f"quiz.graded:{d.get('attempt_id')}:{d.get('user_id')}",
                                     _course_link(d, f"/quizzes/{d.get('quiz_id')}")),
    "assignment.graded": lambda d: _notify("assignment_graded", d,
                                           f"assignment.graded:{d.get('submission_id')}:{d.get('user_id')}",
                                           _course_link(d, f"/assignments/{d.get('assignment_id')}")),
    "submission.evaluated": lambda d: _notify("submission_evaluated", d,
                                              f"submission.evaluated:{d.get('submission_id')}:{d.get('attempt')}",
                                              f"/exercises/{d.get('exercise_id')}"),
    "certificate.issued": lambda d: _notify("certificate_issued", d, f"certificate.issued:{d.get('certificate_id')}",
                                            d.get("verify_url")),
    "course.passed": lambda d: _notify("course_passed", d, f"course.passed:{d.get('course_id')}:{d.get('user_id')}",
                                       _course_link(d)),
}
