"""Beat entries of the analytics family (beat runs in UTC; local times are converted in code)."""
from __future__ import annotations

from celery.schedules import crontab

from celeryconfig import settings

ENTRIES = {
    "roll-up-new-learning-events": {"task": "tasks.analytics.rollup_tick",
                                    "schedule": settings.rollup_interval_seconds},
    "send-daily-learner-digests-at-local-time": {"task": "tasks.analytics.daily_learner_digest",
                                                 "schedule": settings.analytics_digest_check_seconds},
    "remind-learners-of-due-dates": {"task": "tasks.analytics.due_date_reminders", "schedule": crontab(minute=5)},
}
