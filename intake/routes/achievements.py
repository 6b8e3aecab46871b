"""Achievements: badge definitions (operators), a learner's achievements and progress (the web
tier), and an award's Open Badges 3.0 credential (public, like a certificate's)."""
from __future__ import annotations

from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from celeryconfig import settings
from domain.achievements import catalog
from domain.achievements.kinds import BadgeDefinition
from domain.achievements.models import Award, Badge
from domain.certificates import credential, status_list
from domain.certificates.records import ISSUER_NAME
from domain.core.models import User
from domain.db import session_factory, unit_of_work, utcnow
from domain.jobs import enqueueing
from intake.auth import Caller, require
from intake.body import openapi_body, parse_json
from intake.errors import ApiError
from intake.openapi import answers
from intake.routes.certificates import StatusListCredential, key_ring
from intake.schemas import F
from intake.schemas.other import Credential

router = APIRouter(tags=["achievements"])


class BadgeRequest(BadgeDefinition):
    backfill: bool = Field(default=True, description="award it over the history now (a backfill_badge job)",
                           examples=[True])
    notify_backfill: bool = Field(default=False, description="send the badge notification for backfilled awards",
                                  examples=[False])


class BadgeCreated(BaseModel):
    badge: dict = F("the stored definition", {"slug": "seven_day_streak"})
    backfill_job_id: str | None = F("the backfill job (follow it at /v1/jobs/{id})", "9f2c")


class Badges(BaseModel):
    badges: list[dict] = F("every badge, with how many learners hold it (awarded)", [])


class Achievements(BaseModel):
    user_id: str = F("the learner", "u123")
    earned: list[dict] = F("awards with dates and credential links", [])
    progress: list[dict] = F("per badge not earned: each rule's have and need (e.g. streak 4 of 7)", [])


@router.post("/v1/badges", status_code=201, responses=answers(BadgeCreated, status=201, errors=(409,)),
             summary="Define a badge (operators); it is awarded over the history by a backfill job",
             openapi_extra=openapi_body(BadgeRequest))
async def create_badge(request: Request, caller: Caller = require("operate")):
    body = await parse_json(request, BadgeRequest)
    definition = body.model_dump(exclude={"backfill", "notify_backfill"})

    def save() -> dict:
        with unit_of_work(settings.database_url) as s:
            try:
                badge = catalog.create(s, definition)
            except catalog.SlugTaken:
                raise ApiError(409, "conflict", f"a badge {body.slug!r} exists",
                               [{"field": "slug", "message": "already taken"}]) from None
            job_id = None
            if body.backfill:
                job, _ = enqueueing.enqueue(s, "backfill_badge", {"badge_id": badge.id, "notify": body.notify_backfill},
                                         caller=caller.key_id, idempotency_key=f"backfill:{badge.id}")
                job_id = job.id
            return {"badge": badge.to_dict(), "backfill_job_id": job_id}

    return await run_in_threadpool(save)


@router.get("/v1/badges", responses=answers(Badges), summary="Badges with how many learners hold each")
def list_badges(caller: Caller = require("read")):
    with session_factory(settings.database_url)() as s:
        return {"badges": catalog.listing(s)}


@router.get("/v1/users/{user_id}/achievements", responses=answers(Achievements, errors=(404,)),
            summary="A learner's achievements, and progress toward the badges not earned yet")
def learner_achievements(user_id: str = Path(description="the learner"), caller: Caller = require("read")):
    with session_factory(settings.database_url)() as s:
        if len(user_id) > 32 or s.get(User, user_id) is None:
            raise ApiError(404, "not_found", f"no user {user_id!r}")
        return catalog.of_learner(s, user_id, settings.public_base_url)


@router.get("/v1/achievements/status/{number}", responses=answers(StatusListCredential, errors=(404,)),
            summary="A signed Bitstring Status List credential of revoked awards (public)")
def status_list_credential(number: int = Path(ge=0, le=1_000_000, description="the list number (from statusListCredential)")):
    with session_factory(settings.database_url)() as s:
        revoked = catalog.revoked_bits(s, number)
    if revoked is None:
        raise ApiError(404, "not_found", f"no status list {number}")
    base, key = settings.public_base_url.rstrip("/"), key_ring().current
    issuer = credential.issuer_id(base)
    now = utcnow().replace(microsecond=0)
    doc = status_list.credential(base, issuer, number, revoked, credential.date_time(now), catalog.COLLECTION)
    signed = credential.sign(doc, key, credential.verification_method(issuer, key.key_id), created=now)
    return JSONResponse(signed, headers={"Cache-Control": "no-cache"})


@router.get("/v1/achievements/{award_id}/credential", responses=answers(Credential, errors=(404, 410)),
            summary="Open Badges 3.0 credential of an award (public)")
def award_credential(award_id: str = Path(description="the award (from a learner's achievements)")):
    with unit_of_work(settings.database_url) as s:
        award = s.get(Award, award_id) if len(award_id) <= 32 else None
        if award is None:
            raise ApiError(404, "not_found", f"no award {award_id!r}")
        badge = s.get(Badge, award.badge_id)
        if award.revoked_at is not None:
            raise ApiError(410, "revoked", f"award {award.id} was revoked on "
                           f"{credential.date_time(award.revoked_at)}", [{"field": "award_id", "message": "revoked"}])
        catalog.status_slot(s, award)     # its bit in a status list, so a copy the holder keeps can be checked
        base, key = settings.public_base_url.rstrip("/"), key_ring().current
        doc = catalog.award_credential(award, badge, base, ISSUER_NAME)
    issuer = credential.issuer_id(base)
    return credential.sign(doc, key, credential.verification_method(issuer, key.key_id), created=award.earned_at)
