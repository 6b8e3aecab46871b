"""Job kinds of the sandbox family: ``evaluate`` a code submission against its exercise."""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from domain.core.fields import id_field, text
from domain.jobs.errors import InvalidPayload
from domain.jobs.kinds import JobKind
from domain.sandbox.languages import LANGUAGES

Language = Literal[tuple(LANGUAGES)]  # type: ignore[valid-type]
MAX_CODE_CHARS = 64_000


class EvaluatePayload(BaseModel):
    """Either ``submission_id`` (a submission row the web tier or POST /v1/submissions wrote), or
    ``exercise_id`` + ``user_id`` + ``language`` + ``code`` (the job creates the submission)."""

    model_config = ConfigDict(extra="forbid")
    submission_id: str | None = id_field(default=None, examples=["5c6d7e8f9a0b1c2d"],
                                         description="a submission already written; give it alone")
    exercise_id: str | None = id_field(default=None, examples=["ex-fizzbuzz"],
                                       description="the exercise (with user_id, language, code)")
    user_id: str | None = id_field(default=None, description="the learner", examples=["u-1"])
    language: Language | None = Field(default=None, description="the code's language", examples=["python"])
    code: str | None = text(MAX_CODE_CHARS, min_length=1, default=None, description="the source code",
                            examples=["print(input())"])

    @model_validator(mode="after")
    def _one_form(self) -> "EvaluatePayload":
        inline = (self.exercise_id, self.user_id, self.language, self.code)
        if self.submission_id is not None:
            if any(v is not None for v in inline):
                raise ValueError("give submission_id alone, or exercise_id + user_id + language + code")
        elif any(v is None for v in inline):
            raise ValueError("give submission_id, or all of exercise_id, user_id, language and code")
        return self


def _validate(session, payload: EvaluatePayload) -> None:
    from domain.sandbox import submissions
    from domain.sandbox.models import Submission

    if payload.submission_id is not None:
        if session.get(Submission, payload.submission_id) is None:
            raise InvalidPayload("submission_id", f"no submission {payload.submission_id!r}")
        return
    submissions.check_new(session, payload.exercise_id, payload.user_id, payload.language)


def _on_end(session, job, state: str) -> None:
    """The evaluate job ended without a grade (cancelled while queued, dead-lettered by the reaper,
    failed): its submission ends with it, in the same transaction."""
    from sqlalchemy import or_, select

    from domain.sandbox import submissions
    from domain.sandbox.models import Submission

    match = Submission.job_id == job.id
    if (job.payload or {}).get("submission_id"):
        match = or_(match, Submission.id == job.payload["submission_id"])
    for sub_id in session.scalars(select(Submission.id).where(match, Submission.status.in_(submissions.OPEN))).all():
        submissions.settle(session, sub_id, state)


KINDS = [
    JobKind(name="evaluate", payload=EvaluatePayload, task="tasks.sandbox.evaluate", queue="sandbox",
            max_attempts=3, validate=_validate, on_end=_on_end,
            description="Compile and run a code submission against its exercise's test cases in the sandbox; "
                        "store verdicts, score and feedback; update the learner's progress."),
]
REACTIONS: dict = {}
