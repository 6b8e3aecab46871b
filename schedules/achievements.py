"""Beat entries of the achievements family: time-based badges (streaks, early bird) are swept."""
from __future__ import annotations

from celery.schedules import crontab

ENTRIES = {
    "award-time-based-badges-to-active-learners": {"task": "tasks.achievements.sweep_tick",
                                                   "schedule": crontab(minute=23)},
}
