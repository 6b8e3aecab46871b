"""Webhooks that outside services call (no API key: each is authenticated by its own signature)."""
from __future__ import annotations

import json

from fastapi import APIRouter, Header, Request
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from celeryconfig import settings
from domain.db import unit_of_work
from domain.notifications import provider_events
from intake.errors import ApiError
from intake.openapi import answers
from intake.schemas import F

router = APIRouter(tags=["notifications"])
MAX_EVENTS = 10_000      # SendGrid posts batches of events; a post with more is refused


class ProviderEventCounts(BaseModel):
    applied: int = F("events that updated the delivery log and the suppression list", 2)
    duplicates: int = F("events seen before (a redelivered post): nothing changed again", 0)
    ignored: int = F("events with nothing to record (delivered, open, click...)", 5)


@router.post("/v1/webhooks/sendgrid", summary="SendGrid Event Webhook (signed by SendGrid; no API key)",
             responses=answers(ProviderEventCounts, errors=(400, 403, 404)))
async def sendgrid_events(request: Request,
                          signature: str = Header(default="", alias="X-Twilio-Email-Event-Webhook-Signature",
                                                  max_length=400, description="SendGrid's ECDSA signature (base64)"),
                          timestamp: str = Header(default="", alias="X-Twilio-Email-Event-Webhook-Timestamp",
                                                  max_length=20, description="Unix seconds SendGrid signed")):
    """Bounces, drops, spam reports and unsubscribes update the delivery log and the suppression
    list, each event once (by its ``sg_event_id``). Configure the verification key SendGrid shows
    (``COURSEWORK_SENDGRID_WEBHOOK_PUBLIC_KEY``) and enable the signed Event Webhook there."""
    key = settings.sendgrid_webhook_public_key
    if not key:
        raise ApiError(404, "not_found", "the SendGrid event webhook is not configured")
    body = await request.body()
    if not signature or not timestamp:
        raise ApiError(403, "forbidden", "the post is not signed")
    why = provider_events.verify(key, body, signature, timestamp, max_age=settings.sendgrid_webhook_max_age)
    if why:
        raise ApiError(403, "forbidden", f"not a valid SendGrid post: {why}")
    try:
        events = json.loads(body)
    except ValueError:
        raise ApiError(400, "malformed_json", "the body is not JSON") from None
    if not isinstance(events, list) or not all(isinstance(e, dict) for e in events) or len(events) > MAX_EVENTS:
        raise ApiError(400, "malformed_json", f"the body must be a JSON array of at most {MAX_EVENTS} events")

    def apply() -> dict:
        with unit_of_work(settings.database_url) as s:
            return provider_events.apply(s, events)

    return await run_in_threadpool(apply)
