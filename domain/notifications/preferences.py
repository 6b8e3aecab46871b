"""Preferences per user × type × channel, and email suppressions.

A stored preference wins over the type's default; ``urgent`` types are always sent at once
(they cannot be turned off or digested). Both are read again at send time.
"""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from domain.db import new_id, utcnow
from domain.notifications import types
from domain.notifications.models import Preference, Suppression
from domain.notifications.sql import insert_ignore


class PreferenceError(ValueError):
    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message


def effective(type_name: str, channel: str, stored: str | None) -> str:
    kind = types.get(type_name)
    if kind.priority == types.URGENT:
        return types.IMMEDIATE
    return stored or kind.default(channel)


def modes(session: Session, user_ids: list[str], type_name: str, channel: str) -> dict[str, str]:
    """Effective mode for each user, one query for the whole chunk."""
    stored: dict[str, str] = {}
    if user_ids:
        stored = dict(session.execute(select(Preference.user_id, Preference.mode).where(
            Preference.user_id.in_(user_ids), Preference.type == type_name, Preference.channel == channel)).all())
    return {u: effective(type_name, channel, stored.get(u)) for u in user_ids}


def mode(session: Session, user_id: str, type_name: str, channel: str) -> str:
    return modes(session, [user_id], type_name, channel)[user_id]


def set_mode(session: Session, user_id: str, type_name: str, channel: str, mode_: str) -> str:
    if type_name not in types.TYPES:
        raise PreferenceError("type", f"unknown type; one of {', '.join(sorted(types.TYPES))}")
    if channel not in types.CHANNELS:
        raise PreferenceError("channel", f"one of {', '.join(types.CHANNELS)}")
    if mode_ not in types.MODES:
        raise PreferenceError("mode", f"one of {', '.join(types.MODES)}")
    if types.get(type_name).priority == types.URGENT and mode_ != types.IMMEDIATE:
        raise PreferenceError("mode", "urgent notifications cannot be turned off or digested")
    if mode_ == types.DIGEST and (channel != types.EMAIL or type_name == "daily_digest"):
        raise PreferenceError("mode", "only email (and not the digest itself) can be taken as a digest")
    row = session.scalar(select(Preference).where(Preference.user_id == user_id, Preference.type == type_name,
                                                  Preference.channel == channel).with_for_update())
    if row is None:
        insert_ignore(session, Preference.__table__, [{"id": new_id(), "user_id": user_id, "type": type_name,
                                                      "channel": channel, "mode": mode_, "updated_at": utcnow()}])
        row = session.scalar(select(Preference).where(Preference.user_id == user_id, Preference.type == type_name,
                                                      Preference.channel == channel))
    row.mode = mode_
    return mode_


def listing(session: Session, user_id: str) -> list[dict]:
    stored = {(p.type, p.channel): p.mode for p in session.scalars(select(Preference).where(
        Preference.user_id == user_id))}
    return [{"type": t.name, "priority": t.priority, "channel": ch,
             "mode": effective(t.name, ch, stored.get((t.name, ch))),
             "default": t.default(ch), "locked": t.priority == types.URGENT}
            for t in types.TYPES.values() for ch in types.CHANNELS]


def suppressed(session: Session, emails: list[str]) -> set[str]:
    if not emails:
        return set()
    lowered = [e.lower() for e in emails]
    return set(session.scalars(select(Suppression.email).where(Suppression.email.in_(lowered))))


def suppress(session: Session, email: str, reason: str) -> None:
    insert_ignore(session, Suppression.__table__, [{"email": email.lower(), "reason": reason[:200],
                                                    "created_at": utcnow()}])

