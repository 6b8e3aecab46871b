"""Attempt policies, time limits and late penalties. Pure functions of their inputs."""
from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Literal, Sequence

from pydantic import BaseModel, ConfigDict, Field, model_validator

AttemptPolicy = Literal["best", "last", "average"]


def combine_attempts(policy: str, scores: Sequence[float]) -> float | None:
    """The score that counts for a quiz, from its attempts' scores in attempt order."""
    if not scores:
        return None
    if policy == "best":
        return max(scores)
    if policy == "last":
        return scores[-1]
    if policy == "average":
        return sum(scores) / len(scores)
    raise ValueError(f"unknown attempt policy {policy!r}")


def within_time_limit(started_at: datetime, answered_at: datetime, time_limit_seconds: int | None) -> bool:
    """An answer counts when given before the server-side start time + the time limit."""
    if time_limit_seconds is None:
        return True
    return answered_at <= started_at + timedelta(seconds=time_limit_seconds)


class LatePolicy(BaseModel):
    """Grace period, percent off per started day late (after the grace), a cap, a hard cut-off.

    ``hard_cutoff_hours`` is counted from the due date; submissions after it are refused.
    """

    model_config = ConfigDict(extra="forbid")
    grace_minutes: float = Field(default=0, ge=0, le=60 * 24 * 30)
    percent_per_day: float = Field(default=0, ge=0, le=100)
    max_percent: float = Field(default=100, ge=0, le=100)
    hard_cutoff_hours: float | None = Field(default=None, ge=0, le=24 * 365)

    @model_validator(mode="after")
    def _cutoff_after_grace(self):
        if self.hard_cutoff_hours is not None and self.hard_cutoff_hours * 60 < self.grace_minutes:
            raise ValueError("the hard cut-off must not come before the end of the grace period")
        return self


def hard_cutoff(due_at: datetime | None, policy: LatePolicy) -> datetime | None:
    if due_at is None or policy.hard_cutoff_hours is None:
        return None
    return due_at + timedelta(hours=policy.hard_cutoff_hours)


def past_hard_cutoff(due_at: datetime | None, policy: LatePolicy, submitted_at: datetime) -> bool:
    cutoff = hard_cutoff(due_at, policy)
    return cutoff is not None and submitted_at > cutoff


def late_penalty_percent(due_at: datetime | None, policy: LatePolicy, submitted_at: datetime) -> float:
    """Percent taken off for lateness: 0 up to due + grace, then per started day late, capped."""
    if due_at is None:
        return 0.0
    late_by = submitted_at - due_at
    if late_by <= timedelta(minutes=policy.grace_minutes):
        return 0.0
    days = math.ceil(late_by / timedelta(days=1))
    return min(policy.max_percent, policy.percent_per_day * days, 100.0)


def apply_penalty(score: float, penalty_percent: float) -> float:
    """A late penalty never raises a score and never makes it negative."""
    return max(0.0, score * (1 - min(100.0, max(0.0, penalty_percent)) / 100))


def assignment_points(score: float | None, max_score: float | None, peer_score: float | None,
                      peer_weight: float) -> float:
    """An assignment's points in the gradebook: the instructor's score (late penalty applied),
    blended with the peer score (a percent) by ``peer_weight`` once there is one."""
    if score is None or not max_score:
        return 0.0
    if peer_weight and peer_score is not None:
        return ((1 - peer_weight) * (score / max_score) + peer_weight * peer_score / 100) * max_score
    return score
