"""Badge definitions written and read for the web tier: create (with its backfill job), list with
counts, a learner's achievements with progress toward the rest, and an award's OB 3.0 credential."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from domain.achievements import evaluate, rules
from domain.achievements.models import Award, Badge
from domain.certificates import credential, status_list

COLLECTION = "achievements"     # the awards' status lists: /v1/achievements/status/{n}


class SlugTaken(Exception):
    pass


def create(s: Session, definition: dict) -> Badge:
    """A new badge (``definition``: a validated ``BadgeDefinition``); ``SlugTaken`` if its slug is."""
    badge = Badge(**definition)
    try:
        with s.begin_nested():
            s.add(badge)
            s.flush()
    except IntegrityError:
        raise SlugTaken(definition["slug"]) from None
    return badge


def listing(s: Session) -> list[dict]:
    counts = dict(s.execute(select(Award.badge_id, func.count()).where(Award.revoked_at.is_(None))
                            .group_by(Award.badge_id)).all())
    return [{**b.to_dict(), "awarded": counts.get(b.id, 0)} for b in s.scalars(select(Badge).order_by(Badge.slug))]


def of_learner(s: Session, user_id: str, base_url: str, now: datetime | None = None) -> dict:
    """Earned awards (with dates and credential links) and progress toward every badge not earned."""
    awards = s.execute(select(Award, Badge).join(Badge, Badge.id == Award.badge_id)
                       .where(Award.user_id == user_id).order_by(Award.earned_at, Badge.slug, Award.occurrence)).all()
    earned = [{"award_id": a.id, "badge": b.slug, "name": b.name, "course_id": b.course_id,
               "occurrence": a.occurrence, "earned_at": a.earned_at.isoformat(),
               "revoked_at": a.revoked_at.isoformat() if a.revoked_at else None,
               "credential_url": f"{base_url.rstrip('/')}/v1/achievements/{a.id}/credential"} for a, b in awards]
    held = {b.id for a, b in awards if a.revoked_at is None}
    pending = []
    for badge in s.scalars(select(Badge).order_by(Badge.slug)):
        if badge.id in held:
            continue
        pending.append({"badge": badge.slug, "name": badge.name, "course_id": badge.course_id,
                        "progress": evaluate.progress(s, rules.parse(badge.criteria), course_id=badge.course_id,
                                                      user_id=user_id, now=now)})
    return {"user_id": user_id, "earned": earned, "progress": pending}


def status_slot(s: Session, award: Award, attempts: int = 8) -> tuple[int, int]:
    """The award's (list, index) in a Bitstring Status List, given on its first export: a random
    free slot (another award taking the same one at once makes this one try again)."""
    for _ in range(attempts):
        if award.status_index is not None:
            return award.status_list, award.status_index
        given = s.scalar(select(func.count()).select_from(Award).where(Award.status_index.is_not(None)))
        number, index = status_list.pick_slot(given)
        try:
            with s.begin_nested():
                s.execute(update(Award).where(Award.id == award.id, Award.status_index.is_(None))
                          .values(status_list=number, status_index=index))
        except IntegrityError:
            continue
        s.refresh(award)
    raise RuntimeError("no free status list slot after several tries")


def revoked_bits(s: Session, number: int) -> list[int] | None:
    """The set bits (revoked awards) of list ``number``; None when no award is in it."""
    if s.scalar(select(Award.id).where(Award.status_list == number).limit(1)) is None:
        return None
    return list(s.scalars(select(Award.status_index).where(Award.status_list == number,
                                                           Award.revoked_at.is_not(None))))


def award_credential(award: Award, badge: Badge, base_url: str, issuer_name: str) -> dict:
    """The unsigned OpenBadgeCredential of an award (signed like certificates by the caller)."""
    base = base_url.rstrip("/")
    achievement = {"id": f"{base}/v1/badges/{badge.slug}", "name": badge.name,
                   "description": badge.description or badge.name,
                   "criteria": {"narrative": badge.description or badge.name}, "achievementType": "Badge"}
    if badge.image_url:
        achievement["image"] = {"id": badge.image_url, "type": "Image"}
    subject = {"identifier": [{"type": "IdentityObject", "identityType": "identifier", "hashed": False,
                               "identityHash": award.user_id}]}
    return credential.achievement_credential(
        credential_id=f"{base}/v1/achievements/{award.id}/credential",
        issuer=credential.issuer_profile(base, issuer_name), achievement=achievement, valid_from=award.earned_at,
        awarded=award.earned_at, name=f"Badge: {badge.name}", subject=subject,
        status=(status_list.entry(base, award.status_list, award.status_index, COLLECTION)
                if award.status_index is not None else None))
