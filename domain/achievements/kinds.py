"""Job kinds of the achievements family (queue ``analytics``: event-driven database work),
badge definitions as they are submitted, and the reactions that evaluate a learner's badges."""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from domain.achievements import rules
from domain.core.fields import id_field, line, text
from domain.jobs.errors import InvalidPayload
from domain.jobs.kinds import Enqueue, JobKind

QUEUE = "analytics"


class BadgeDefinition(BaseModel):
    """A badge as an operator defines it (``POST /v1/badges``, ``coursework achievements seed``)."""

    model_config = ConfigDict(extra="forbid")
    slug: str = id_field(64, pattern=r"^[a-z0-9_]+$", description="stable name (the badge type)",
                         examples=["seven_day_streak"])
    name: str = line(200, min_length=1, description="what learners see", examples=["Seven-day streak"])
    description: str = text(2000, default="", description="how it is earned, in words",
                            examples=["Learned 7 days in a row."])
    image_url: str | None = line(1000, default=None, description="the badge's image", examples=[None])
    course_id: str | None = id_field(default=None, description="only this course (none: platform-wide)",
                                     examples=[None])
    criteria: dict = Field(description="the rule (docs/families/achievements.md: the rule language)",
                           examples=[{"type": "streak", "days": 7}])
    repeatable: bool = Field(default=False, description="earned again at each multiple of the rule", examples=[False])
    revocable: bool = Field(default=False, description="revoked when a later change (a regrade) unmeets it",
                            examples=[False])

    @field_validator("criteria")
    @classmethod
    def _rule(cls, value: dict) -> dict:
        rule = rules.parse(value)
        if rules.depth(rule) > 3:
            raise ValueError("rules nest at most 3 deep")
        return rule.model_dump(mode="json", exclude_none=True)


class EvaluatePayload(BaseModel):
    model_config = ConfigDict(extra="forbid")
    user_id: str = id_field(description="the learner", examples=["u123"])
    course_id: str | None = id_field(default=None, description="the course the event was about", examples=["c42"])


class BackfillPayload(BaseModel):
    model_config = ConfigDict(extra="forbid")
    badge_id: str = id_field(description="the badge to award over the history", examples=["b1"])
    notify: bool = Field(default=False, description="send the badge notification for backfilled awards",
                         examples=[False])


class SweepPayload(BaseModel):
    model_config = ConfigDict(extra="forbid")
    hours: int = Field(default=48, ge=1, le=24 * 30, description="learners active in the last N hours",
                       examples=[48])


def _badge_exists(session, payload: BackfillPayload) -> None:
    from domain.achievements.models import Badge

    if session.get(Badge, payload.badge_id) is None:
        raise InvalidPayload("badge_id", f"no badge {payload.badge_id!r}")


KINDS = [
    JobKind(name="evaluate_achievements", payload=EvaluatePayload, task="tasks.achievements.evaluate",
            queue=QUEUE, max_attempts=5, extra_scope="operate",
            description="Award the badges a learner now meets (started by graded / evaluated / passed events)."),
    JobKind(name="backfill_badge", payload=BackfillPayload, task="tasks.achievements.backfill", queue=QUEUE,
            max_attempts=5, extra_scope="operate", validate=_badge_exists,
            description="Award one badge over the whole history, in chunks, with progress; safe to rerun."),
    JobKind(name="sweep_achievements", payload=SweepPayload, task="tasks.achievements.sweep", queue=QUEUE,
            max_attempts=3, extra_scope="operate",
            description="Evaluate recently active learners (streaks, early bird...); beat runs it."),
]


def _evaluate(data: dict, event: str, key: str) -> list[Enqueue]:
    user = data.get("user_id")
    if not user:
        return []
    payload = {"user_id": str(user)[:32], "course_id": (str(data["course_id"])[:32] if data.get("course_id") else None)}
    return [Enqueue("evaluate_achievements", payload, idempotency_key=f"achievements:{event}:{key}"[:200])]


def _notify(data: dict) -> list[Enqueue]:
    if data.get("quiet") or not data.get("user_id"):
        return []
    payload = {"user_id": data["user_id"], "type": "badge_earned", "data": {"badge_name": data["badge_name"],
               "badge_slug": data["badge_slug"], "course_id": data.get("course_id")},
               "dedupe_key": f"badge:{data['award_id']}"}
    return [Enqueue("notify", payload, idempotency_key=f"notify:badge:{data['award_id']}")]


REACTIONS = {
    "quiz.graded": lambda d: _evaluate(d, "quiz.graded", f"{d.get('attempt_id')}:{d.get('user_id')}"),
    "assignment.graded": lambda d: _evaluate(d, "assignment.graded", f"{d.get('submission_id')}:{d.get('user_id')}"),
    "submission.evaluated": lambda d: _evaluate(d, "submission.evaluated",
                                                f"{d.get('submission_id')}:{d.get('attempt')}"),
    "course.passed": lambda d: _evaluate(d, "course.passed", f"{d.get('course_id')}:{d.get('user_id')}"),
    "achievement.earned": _notify,
}
