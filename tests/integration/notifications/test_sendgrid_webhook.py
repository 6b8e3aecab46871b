"""SendGrid's Event Webhook through the real intake: signed posts update the delivery log and the
suppression list once per event; forged, tampered, unsigned or stale posts change nothing."""
from __future__ import annotations

import json
import secrets
import time

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import select

from domain.db import unit_of_work
from domain.notifications import deliveries
from domain.notifications.models import Delivery, Suppression
from tests.integration.notifications.conftest import sign_webhook
from tests.integration.notifications.people import make_user

PATH = "/v1/webhooks/sendgrid"


def _sent_delivery(url: str) -> tuple[str, str]:
    """A learner with an email delivery marked sent (as the sender marks it); (delivery id, email)."""
    user = make_user(url, "Bo Unce", f"bounce-{secrets.token_hex(4)}@example.test")
    with unit_of_work(url) as s:
        note = deliveries.upsert_notification(s, type_name="course_announcement", data={}, title="Hi", body="x",
                                              link=None, dedupe_key=f"wh:{secrets.token_hex(4)}")
        deliveries.add_deliveries(s, note, [user["id"]])
        s.flush()
        row = s.scalar(select(Delivery).where(Delivery.notification_id == note.id, Delivery.channel == "email"))
        row.status = "sent"
        return row.id, user["email"]


def _post(intake_url: str, events: list[dict], *, key=None, timestamp: str | None = None, body: bytes | None = None,
          signature: str | None = None) -> httpx.Response:
    raw = body if body is not None else json.dumps(events).encode()
    ts = timestamp or str(int(time.time()))
    sig = signature if signature is not None else sign_webhook(raw, ts, key)
    return httpx.post(f"{intake_url}{PATH}", content=raw, timeout=10, headers={
        "Content-Type": "application/json", "X-Twilio-Email-Event-Webhook-Signature": sig,
        "X-Twilio-Email-Event-Webhook-Timestamp": ts})


def _state(url: str, delivery_id: str, email: str) -> tuple[str, str | None]:
    with unit_of_work(url) as s:
        return s.get(Delivery, delivery_id).status, s.scalar(select(Suppression.reason).where(Suppression.email == email))


@pytest.fixture
def intake_url(intake):
    return intake


def test_a_signed_bounce_updates_the_delivery_and_the_suppression_list_once(database, intake_url):
    # Given a sent email, and SendGrid reporting its bounce plus events we do not record
    delivery_id, email = _sent_delivery(database.url)
    events = [{"email": email, "event": "bounce", "sg_event_id": f"ev-{secrets.token_hex(6)}", "delivery_id": delivery_id,
               "reason": "550 5.1.1 unknown user", "timestamp": int(time.time())},
              {"email": email, "event": "open", "sg_event_id": f"ev-{secrets.token_hex(6)}"}]
    # When SendGrid posts them, signed
    r = _post(intake_url, events)
    # Then the delivery is bounced, the address suppressed, and the open ignored
    assert r.status_code == 200, r.text
    assert r.json() == {"applied": 1, "duplicates": 0, "ignored": 1}
    status, reason = _state(database.url, delivery_id, email)
    assert status == "bounced" and "bounced" in reason
    # When SendGrid redelivers the same post, Then nothing is applied twice
    again = _post(intake_url, events)
    assert again.status_code == 200 and again.json() == {"applied": 0, "duplicates": 1, "ignored": 1}


@pytest.mark.parametrize("event,status,reason", [
    ("dropped", "failed", "dropped"),
    ("spamreport", "sent", "complaint"),
    ("unsubscribe", "sent", "unsubscribed"),
])
def test_drops_complaints_and_unsubscribes_reach_the_suppression_list(database, intake_url, event, status, reason):
    delivery_id, email = _sent_delivery(database.url)
    r = _post(intake_url, [{"email": email, "event": event, "sg_event_id": f"ev-{secrets.token_hex(6)}",
                            "delivery_id": delivery_id}])
    assert r.status_code == 200 and r.json()["applied"] == 1, r.text
    got_status, got_reason = _state(database.url, delivery_id, email)
    assert got_status == status and reason in got_reason


def test_forged_tampered_unsigned_and_stale_posts_change_nothing(database, intake_url):
    # Given a sent email and a bounce event for it
    delivery_id, email = _sent_delivery(database.url)
    events = [{"email": email, "event": "bounce", "sg_event_id": f"ev-{secrets.token_hex(6)}", "delivery_id": delivery_id}]
    raw = json.dumps(events).encode()
    now = str(int(time.time()))
    attempts = {
        "signed by another key": _post(intake_url, events, key=ec.generate_private_key(ec.SECP256R1())),
        "body changed after signing": _post(intake_url, events, body=raw.replace(b"bounce", b"bounced"),
                                            signature=sign_webhook(raw, now), timestamp=now),
        "unsigned": _post(intake_url, events, signature=""),
        "an hour old": _post(intake_url, events, timestamp=str(int(time.time()) - 3600)),
        "not base64": _post(intake_url, events, signature="%%%not-base64%%%"),
    }
    # Then each is refused with the error envelope, and the delivery and the list are untouched
    for what, r in attempts.items():
        assert r.status_code == 403, (what, r.text)
        assert r.json()["error"]["code"] == "forbidden", what
    assert _state(database.url, delivery_id, email) == ("sent", None)
    # And a signed post that is not an array of events is a 400
    bad = _post(intake_url, [], body=b'{"event": "bounce"}')
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "malformed_json"
