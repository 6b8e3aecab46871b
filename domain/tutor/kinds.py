"""Job kinds of the tutor family: compose a reply (streamed), (re)index a course's passages."""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from domain.core.fields import id_field
from domain.core.models import Course
from domain.jobs.errors import InvalidPayload
from domain.jobs.kinds import Enqueue, JobKind  # noqa: F401



class TutorReplyPayload(BaseModel):
    """The pending assistant message (``reply_id``) that answers the session's latest question."""

    model_config = ConfigDict(extra="forbid")
    session_id: str = id_field(description="the tutor session", examples=["7e8f9a0b1c2d3e4f"])
    reply_id: str = id_field(description="the pending assistant message to write", examples=["8f9a0b1c2d3e4f5a"])


class TutorIndexPayload(BaseModel):
    model_config = ConfigDict(extra="forbid")
    course_id: str = id_field(description="the course to (re)index", examples=["c-1"])


def _check_reply(session, payload: TutorReplyPayload) -> None:
    from domain.tutor.models import TutorMessage

    msg = session.get(TutorMessage, payload.reply_id)
    if msg is None or msg.role != "assistant" or msg.session_id != payload.session_id:
        raise InvalidPayload("reply_id", f"no assistant reply {payload.reply_id!r} in session {payload.session_id!r}")


def _check_course(session, payload: TutorIndexPayload) -> None:
    if session.get(Course, payload.course_id) is None:
        raise InvalidPayload("course_id", f"no course {payload.course_id!r}")


KINDS = [
    JobKind(name="tutor_reply", payload=TutorReplyPayload, task="tasks.tutor.reply", queue="tutor", max_attempts=3,
            validate=_check_reply,
            description="Answer the latest learner message of a tutor session from the course content; "
                        "tokens stream on GET /v1/tutor/sessions/{id}/stream."),
    JobKind(name="tutor_index", payload=TutorIndexPayload, task="tasks.tutor.index", queue="tutor", max_attempts=3,
            validate=_check_course,
            description="(Re)build the retrieval passages of a course after its lessons changed."),
]
REACTIONS: dict = {}
