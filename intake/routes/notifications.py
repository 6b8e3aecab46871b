"""Notifications: a user's in-app inbox (list, unread count, mark read, live stream),
preferences, and the signed one-click unsubscribe link (RFC 8058) that emails carry."""
from __future__ import annotations

import html

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import HTMLResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict
from sqlalchemy import and_, func, select
from starlette.concurrency import run_in_threadpool

from celeryconfig import settings
from domain.core import purpose_keys
from domain.core.fields import line
from domain.core.models import User
from domain.db import session_factory, unit_of_work
from domain.jobs.models import JobEvent
from domain.notifications import inbox, preferences, types, unsubscribe
from intake import sse
from intake.auth import Caller, public, require, require_write
from intake.body import openapi_body, parse_json
from intake.errors import ApiError
from intake.openapi import answers
from intake.schemas.jobs import JobEvent as JobEventView
from intake.schemas.other import Inbox, MarkedAll, Preference, Preferences, UnreadCount
from workers.events import user_channel

router = APIRouter(tags=["notifications"])
STREAM_DOC = ("`text/event-stream`: one `notification.created` event per new in-app notification, each `data:` a "
              "JobEvent whose data is the notification; resume with `Last-Event-ID`")


class PreferenceRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: str = line(48, min_length=1, description="a notification type", examples=["quiz_graded"])
    channel: str = line(16, min_length=1, description="email | in_app", examples=["email"])
    mode: str = line(16, min_length=1, description="immediate | digest (email only) | off", examples=["digest"])


def _user(s, user_id: str) -> User:
    user = s.get(User, user_id)
    if user is None:
        raise ApiError(404, "not_found", f"no user {user_id!r}")
    return user


@router.get("/v1/users/{user_id}/notifications", responses=answers(Inbox), summary="A user's in-app notifications (newest first)")
def list_notifications(user_id: str, caller: Caller = require("read"), unread: bool = False,
                       limit: int = Query(default=50, ge=1, le=200), before: str | None = None):
    with session_factory(settings.database_url)() as s:
        _user(s, user_id)
        items = inbox.items(s, user_id, unread_only=unread, limit=limit, before=before)
        count = inbox.unread_count(s, user_id)
    return {"items": items, "unread": count, "next_before": items[-1]["id"] if len(items) == limit else None}


@router.get("/v1/users/{user_id}/notifications/unread-count", responses=answers(UnreadCount), summary="How many in-app notifications are unread")
def unread_count(user_id: str, caller: Caller = require("read")):
    with session_factory(settings.database_url)() as s:
        _user(s, user_id)
        return {"unread": inbox.unread_count(s, user_id)}


@router.post("/v1/users/{user_id}/notifications/{item_id}/read", responses=answers(UnreadCount), summary="Mark one in-app notification read")
def mark_read(user_id: str, item_id: str, caller: Caller = require_write("notifications")):
    with unit_of_work(settings.database_url) as s:
        _user(s, user_id)
        if not inbox.mark_read(s, user_id, item_id):
            raise ApiError(404, "not_found", f"no notification {item_id!r} for this user")
    with session_factory(settings.database_url)() as s:
        return {"unread": inbox.unread_count(s, user_id)}


@router.post("/v1/users/{user_id}/notifications/read-all", responses=answers(MarkedAll), summary="Mark all in-app notifications read")
def mark_all_read(user_id: str, caller: Caller = require_write("notifications")):
    with unit_of_work(settings.database_url) as s:
        _user(s, user_id)
        changed = inbox.mark_all_read(s, user_id)
    return {"marked": changed, "unread": 0}


@router.get("/v1/users/{user_id}/notifications/stream", responses=answers(None, media_type="text/event-stream", description=STREAM_DOC, events=JobEventView),
            summary="Server-sent events: new in-app notifications for this user, live")
async def stream(user_id: str, request: Request, caller: Caller = require("read"),
                 last_event_id: int | None = Header(default=None)):
    def start() -> int:
        with session_factory(settings.database_url)() as s:
            _user(s, user_id)
            if last_event_id is not None:
                return last_event_id
            return s.scalar(select(func.max(JobEvent.id))) or 0

    after = await run_in_threadpool(start)
    where = and_(JobEvent.user_id == user_id, JobEvent.type == "notification.created")
    return StreamingResponse(sse.stream(where, user_channel(user_id), after=after), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


@router.get("/v1/users/{user_id}/notification-preferences", responses=answers(Preferences), summary="Effective preference per type and channel")
def get_preferences(user_id: str, caller: Caller = require("read")):
    with session_factory(settings.database_url)() as s:
        _user(s, user_id)
        return {"preferences": preferences.listing(s, user_id)}


@router.put("/v1/users/{user_id}/notification-preferences", responses=answers(Preference), summary="Set one preference",
            openapi_extra=openapi_body(PreferenceRequest))
async def put_preference(user_id: str, request: Request, caller: Caller = require_write("notifications")):
    body = await parse_json(request, PreferenceRequest)

    def save() -> dict:
        with unit_of_work(settings.database_url) as s:
            _user(s, user_id)
            try:
                mode = preferences.set_mode(s, user_id, body.type, body.channel, body.mode)
            except preferences.PreferenceError as exc:
                raise ApiError(422, "validation_error", str(exc), [{"field": exc.field, "message": exc.message}])
        return {"type": body.type, "channel": body.channel, "mode": mode}

    return await run_in_threadpool(save)


# --------------------------------------------------------------------------- unsubscribe (no API key)

def _token_target(token: str) -> tuple[str, str]:
    target = unsubscribe.read_token(purpose_keys.from_settings(settings, unsubscribe.PURPOSE), token)
    if target is None or target[1] not in types.TYPES:
        raise ApiError(400, "invalid_token", "this unsubscribe link is not valid",
                       [{"field": "token", "message": "bad signature or unknown type"}])
    return target


def _page(title: str, body: str) -> HTMLResponse:
    return HTMLResponse(f"<!doctype html><html><head><title>{html.escape(title)}</title></head>"
                        f"<body style='font-family: sans-serif'><h1>{html.escape(title)}</h1>{body}</body></html>")


@router.get("/v1/notifications/unsubscribe", responses=answers(None, media_type="text/html", errors=(400,), description="an HTML page"), summary="Unsubscribe confirmation page (from an email link)")
def unsubscribe_page(token: str = Query(min_length=10, max_length=200), _limit: None = public()):
    user_id, type_name = _token_target(token)
    label = type_name.replace("_", " ")
    return _page("Unsubscribe", f"<p>Stop emails about <b>{html.escape(label)}</b>?</p>"
                 f"<form method='post' action='/v1/notifications/unsubscribe?token={html.escape(token)}'>"
                 "<input type='hidden' name='List-Unsubscribe' value='One-Click'>"
                 "<button type='submit'>Unsubscribe</button></form>")


@router.post("/v1/notifications/unsubscribe", responses=answers(None, media_type="text/html", errors=(400,), description="an HTML page"), summary="One-click unsubscribe (RFC 8058 List-Unsubscribe-Post)")
def unsubscribe_now(token: str = Query(min_length=10, max_length=200), _limit: None = public()):
    user_id, type_name = _token_target(token)
    if types.get(type_name).priority == types.URGENT:
        return _page("Not unsubscribed", "<p>Urgent notices cannot be turned off.</p>")
    with unit_of_work(settings.database_url) as s:
        _user(s, user_id)
        preferences.set_mode(s, user_id, type_name, types.EMAIL, types.OFF)
    return _page("Unsubscribed", f"<p>You will no longer get emails about "
                 f"<b>{html.escape(type_name.replace('_', ' '))}</b>.</p>")
