"""Events an email provider reports after it accepted a message (SendGrid's Event Webhook):
bounces, drops, spam reports and unsubscribes reach the delivery log and the suppression list.

``verify`` checks SendGrid's signature (ECDSA P-256 over the timestamp and the raw body, with the
official library's ``EventWebhook``) and refuses a timestamp older than ``max_age`` (a replayed
post). ``apply`` records each event by its ``sg_event_id`` first: an event seen before (SendGrid
retries a post that did not get a 2xx) changes nothing a second time.
"""
from __future__ import annotations

import binascii
from datetime import datetime, timezone

from sendgrid.helpers.eventwebhook import EventWebhook
from sqlalchemy import update
from sqlalchemy.orm import Session

from domain.db import utcnow
from domain.notifications import preferences
from domain.notifications.models import BOUNCED, FAILED, SENT, Delivery, ProviderEvent
from domain.notifications.sql import insert_ignore

PROVIDER = "sendgrid"
# event type -> (the delivery's new status, or None to keep it; the suppression reason)
EFFECTS = {
    "bounce": (BOUNCED, "bounced"),
    "dropped": (FAILED, "dropped by the provider"),
    "spamreport": (None, "complaint (spam report)"),
    "unsubscribe": (None, "unsubscribed at the provider"),
    "group_unsubscribe": (None, "unsubscribed at the provider"),
}


def verify(public_key: str, body: bytes, signature: str, timestamp: str, *, max_age: int,
           now: datetime | None = None) -> str | None:
    """None when the post is SendGrid's and fresh; else why not."""
    try:
        sent_at = int(timestamp)
    except ValueError:
        return "the timestamp is not a number"
    age = (now or datetime.now(timezone.utc)).timestamp() - sent_at
    if abs(age) > max_age:
        return f"the timestamp is {int(age)} s from now (at most {max_age} s allowed)"
    try:
        hook = EventWebhook(public_key)
        ok = hook.verify_signature(body.decode("utf-8"), signature, timestamp)
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        return "the signature or the configured key is malformed"
    return None if ok else "the signature does not match"


def apply(session: Session, events: list[dict]) -> dict:
    """Apply the events not seen before; returns counts by outcome."""
    counts = {"applied": 0, "duplicates": 0, "ignored": 0}
    for event in events:
        event_id, kind = str(event.get("sg_event_id") or ""), str(event.get("event") or "")
        if not event_id or kind not in EFFECTS:
            counts["ignored"] += 1       # delivered, open, click...: nothing to record
            continue
        email = str(event.get("email") or "").lower()[:320] or None
        delivery_id = str(event.get("delivery_id") or "")[:32] or None     # our custom arg
        T = ProviderEvent.__table__
        fresh = insert_ignore(session, T, [{
            "provider": PROVIDER, "event_id": event_id[:100], "type": kind, "email": email,
            "delivery_id": delivery_id, "received_at": utcnow()}], returning=(T.c.event_id,))
        if not fresh:
            counts["duplicates"] += 1
            continue
        status, reason = EFFECTS[kind]
        detail = f"{PROVIDER} {kind}: {event.get('reason') or event.get('type') or reason}"[:2000]
        if delivery_id:
            values = {"last_error": detail}
            if status is not None:
                values["status"] = status
            session.execute(update(Delivery).where(Delivery.id == delivery_id, Delivery.status == SENT)
                            .values(**values))
        if email:
            preferences.suppress(session, email, f"{reason} ({PROVIDER})")
        counts["applied"] += 1
    return counts
