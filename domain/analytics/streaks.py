"""Streaks over a learner's active local days. Pure functions."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Iterable


@dataclass
class Streak:
    first_active_day: date
    last_active_day: date
    current_streak: int        # the run of consecutive days ending at last_active_day
    longest_streak: int
    active_days: int


def from_days(days: Iterable[date]) -> Streak | None:
    """Streak state from all active days (any order, duplicates ignored)."""
    ordered = sorted(set(days))
    if not ordered:
        return None
    state = Streak(ordered[0], ordered[0], 1, 1, 1)
    return extend(state, ordered[1:])


def extend(state: Streak, new_days: Iterable[date]) -> Streak:
    """Fold days that all come after ``state.last_active_day`` (the incremental path)."""
    s = Streak(**state.__dict__)
    for d in sorted(set(new_days)):
        if d <= s.last_active_day:
            raise ValueError(f"{d} is not after {s.last_active_day}: recompute from all days")
        s.current_streak = s.current_streak + 1 if d == s.last_active_day + timedelta(days=1) else 1
        s.last_active_day = d
        s.longest_streak = max(s.longest_streak, s.current_streak)
        s.active_days += 1
    return s


def live_streak(current_streak: int, last_active_day: date, today: date) -> int:
    """The streak as the learner sees it today: kept through today if active yesterday."""
    return current_streak if (today - last_active_day).days <= 1 else 0
