"""The notification types: priority, default delivery per channel, subject line.

Templates live in ``templates/<type>.txt`` and ``templates/<type>.html`` (Jinja2). A type's
defaults apply until the user sets a preference; ``urgent`` types cannot be turned off.
"""
from __future__ import annotations

from dataclasses import dataclass

NORMAL, HIGH, URGENT = "normal", "high", "urgent"
PRIORITIES = (NORMAL, HIGH, URGENT)

EMAIL, IN_APP = "email", "in_app"
CHANNELS = (EMAIL, IN_APP)

IMMEDIATE, DIGEST, OFF = "immediate", "digest", "off"
MODES = (IMMEDIATE, DIGEST, OFF)


@dataclass(frozen=True)
class NotificationType:
    name: str
    priority: str
    subject: str                       # a Jinja2 expression over the notification's data
    email: str = IMMEDIATE             # default mode for the email channel
    in_app: str = IMMEDIATE            # default mode for the in-app channel
    expires_days: int | None = 90      # in-app items disappear after this many days

    def default(self, channel: str) -> str:
        return self.email if channel == EMAIL else self.in_app


TYPES: dict[str, NotificationType] = {t.name: t for t in [
    NotificationType("enrollment_confirmed", NORMAL, "You are enrolled in {{ course_title }}"),
    NotificationType("lesson_reminder", NORMAL, "Time to continue {{ course_title }}", email=DIGEST,
                     expires_days=7),
    NotificationType("assignment_due_soon", HIGH, "{{ assignment_title }} is due {{ due_at }}", expires_days=14),
    NotificationType("assignment_graded", NORMAL, "Your assignment was graded: {{ score_pct }}%"),
    NotificationType("quiz_graded", NORMAL, "Your quiz was graded: {{ score_pct }}%"),
    NotificationType("submission_evaluated", NORMAL, "Your code submission scored {{ score }}", email=OFF),
    NotificationType("course_announcement", NORMAL, "{{ title }}"),
    NotificationType("direct_message", HIGH, "New message from {{ sender_name }}"),
    NotificationType("certificate_issued", HIGH, "Your certificate is ready"),
    NotificationType("course_passed", HIGH, "You passed {{ course_title }}"),
    NotificationType("question_answered", NORMAL, "Your question got an answer"),
    NotificationType("badge_earned", NORMAL, "You earned the {{ badge_name }} badge", email=DIGEST),
    NotificationType("security_alert", URGENT, "{{ title }}", expires_days=None),
    NotificationType("daily_digest", NORMAL, "Your daily summary: {{ items|length }} update(s)", in_app=OFF),
]}


def get(name: str) -> NotificationType:
    try:
        return TYPES[name]
    except KeyError:
        raise KeyError(f"unknown notification type {name!r}; known: {', '.join(sorted(TYPES))}") from None
