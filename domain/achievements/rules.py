"""The rule language of badge criteria: JSON a badge definition carries, checked on creation.

A rule is one of (``type`` picks which):

| type | fields | counts, per learner |
|---|---|---|
| ``events`` | ``event``, ``at_least``, ``within_days``?, ``local_hours``? ``[from, to)`` | learning events of that type (in the badge's course), in the last N days, at those hours of the learner's own time zone |
| ``streak`` | ``days`` | the longest run of active days in the learner's time zone (analytics) |
| ``scores`` | ``min_score``, ``items``, ``event``? (``quiz_graded``, ``assignment_graded``, ``submission_evaluated``, ``any``) | graded items scored at least ``min_score`` (0-100) |
| ``courses_passed`` | ``at_least`` | courses whose course grade is a pass |
| ``peer_reviews`` | ``at_least`` | peer reviews the learner completed |
| ``all`` | ``rules`` (1-8 rules) | earned when every rule is met |

Every leaf rule is a count against a threshold, so "streak 4 of 7" is its progress. Pure data
and validation: ``evaluate`` turns rules into queries.
"""
from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, model_validator

from domain.analytics.events import EVENT_TYPES

GRADED = ("quiz_graded", "assignment_graded", "submission_evaluated")
COUNT = dict(ge=1, le=1_000_000)


class _Rule(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Events(_Rule):
    type: Literal["events"]
    event: Literal[EVENT_TYPES] = Field(description="the learning event type counted", examples=["lesson_completed"])
    at_least: int = Field(description="how many", examples=[10], **COUNT)
    within_days: int | None = Field(default=None, ge=1, le=3650, description="only the last N days", examples=[7])
    local_hours: tuple[int, int] | None = Field(default=None, examples=[[5, 8]],
                                                description="only at these hours [from, to) of the learner's day")

    @model_validator(mode="after")
    def _hours(self) -> "Events":
        if self.local_hours is not None:
            start, end = self.local_hours
            if not (0 <= start < end <= 24):
                raise ValueError("local_hours must be [from, to) with 0 <= from < to <= 24")
        return self

    def need(self) -> int:
        return self.at_least


class Streak(_Rule):
    type: Literal["streak"]
    days: int = Field(ge=2, le=3650, description="consecutive active days in the learner's time zone", examples=[7])

    def need(self) -> int:
        return self.days


class Scores(_Rule):
    type: Literal["scores"]
    min_score: float = Field(ge=0, le=100, allow_inf_nan=False, description="score (0-100) an item needs",
                             examples=[90])
    items: int = Field(description="how many items at that score", examples=[5], **COUNT)
    event: Literal["quiz_graded", "assignment_graded", "submission_evaluated", "any"] = "any"

    def need(self) -> int:
        return self.items


class CoursesPassed(_Rule):
    type: Literal["courses_passed"]
    at_least: int = Field(description="courses passed", examples=[1], **COUNT)

    def need(self) -> int:
        return self.at_least


class PeerReviews(_Rule):
    type: Literal["peer_reviews"]
    at_least: int = Field(description="peer reviews completed", examples=[5], **COUNT)

    def need(self) -> int:
        return self.at_least


class AllOf(_Rule):
    type: Literal["all"]
    rules: list["Rule"] = Field(min_length=1, max_length=8, description="every one of these")


Leaf = Union[Events, Streak, Scores, CoursesPassed, PeerReviews]
Rule = Annotated[Union[Events, Streak, Scores, CoursesPassed, PeerReviews, AllOf], Field(discriminator="type")]
AllOf.model_rebuild()
RULE = TypeAdapter(Rule)


def parse(criteria: dict) -> Rule:
    """The rule of a stored or submitted definition (raises pydantic.ValidationError)."""
    return RULE.validate_python(criteria)


def leaves(rule) -> list[Leaf]:
    return [leaf for r in rule.rules for leaf in leaves(r)] if isinstance(rule, AllOf) else [rule]


def depth(rule, level: int = 1) -> int:
    return max(depth(r, level + 1) for r in rule.rules) if isinstance(rule, AllOf) else level
