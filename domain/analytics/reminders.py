"""Due-date reminders: a clearly named hook, not yet wired to a sender.

The beat entry ``remind-learners-of-due-dates`` calls ``due_date_reminders`` every hour. When
the grading family's assignments (with ``due_at``) and the notifications family's ``notify``
kind both exist, this is where learners with work due in the next day get a notification job
(idempotency key ``due-soon:<assignment>:<user>``). Until then it reports what is missing.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from domain.jobs.kinds import catalog


def due_date_reminders(s: Session, now_utc: datetime) -> dict:
    missing = []
    try:
        from domain.grading.models import Assignment  # noqa: F401
    except ImportError:
        missing.append("domain.grading.models.Assignment")
    if catalog().get("notify") is None:
        missing.append("job kind 'notify'")
    return {"hook": "due_date_reminders", "at": now_utc.isoformat(), "sent": 0,
            "waiting_for": missing or ["wiring of assignment due dates to notify (analytics issue follow-up)"]}
