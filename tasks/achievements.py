"""Tasks of the achievements family (queue ``analytics``). Thin: unit of work → domain → events."""
from __future__ import annotations

from datetime import timedelta

from celeryconfig import settings
from domain.achievements import awarding, evaluate, rules
from domain.achievements.models import Badge
from domain.db import unit_of_work, utcnow
from domain.jobs import enqueueing
from domain.jobs.errors import PermanentError
from workers.app import app
from workers.base import job_task


def _announce(ctx, session, new: list[dict], quiet: bool = False) -> None:
    for award in new:
        ctx.emit("achievement.earned", awarding.earned_event(award, award["badge"], quiet),
                 user_id=award["user_id"], session=session)


@job_task("evaluate_achievements")
def evaluate_learner(ctx, payload):
    with ctx.uow() as session:
        new, revoked = awarding.evaluate_learners(session, [payload.user_id], payload.course_id)
        _announce(ctx, session, new)
        return {"awarded": [a["badge"].slug for a in new], "revoked": revoked}


@job_task("sweep_achievements")
def sweep(ctx, payload):
    """Learners active lately, a bounded batch at a time; a doubled or missed sweep is harmless."""
    since, after, awarded, seen = utcnow() - timedelta(hours=payload.hours), "", 0, 0
    while True:
        with ctx.uow() as session:
            users = awarding.recently_active(session, since, after)
            if not users:
                return {"learners": seen, "awarded": awarded}
            new, _ = awarding.evaluate_learners(session, users)
            _announce(ctx, session, new)
        seen, awarded, after = seen + len(users), awarded + len(new), users[-1]
        ctx.check_cancelled()


@job_task("backfill_badge")
def backfill(ctx, payload):
    """The badge over the whole history: one set-based pass per rule, then the awards in chunks
    (each its own transaction, with progress). A rerun after a crash writes only what is missing."""
    with ctx.uow() as session:
        badge = session.get(Badge, payload.badge_id)
        if badge is None:
            raise PermanentError(f"no badge {payload.badge_id!r}", code="not_found")
        earned = evaluate.qualifying(session, rules.parse(badge.criteria), course_id=badge.course_id,
                                     repeatable=badge.repeatable)
    users, written, size = sorted(earned), 0, max(1, ctx.settings.achievements_chunk)
    for i in range(0, len(users), size):
        chunk = {u: earned[u] for u in users[i:i + size]}
        with ctx.uow() as session:
            badge = session.get(Badge, payload.badge_id)
            new = awarding.write(session, badge, chunk, backfilled=True)
            if payload.notify:
                _announce(ctx, session, [{**a, "badge": badge} for a in new])
            written += len(new)
        ctx.progress(100 * (i + len(chunk)) / len(users), f"{i + len(chunk)} of {len(users)} learners")
        ctx.check_cancelled()
    with ctx.uow() as session:    # one summary event, not one per award, when nobody is notified
        ctx.emit("achievement.backfilled", {"badge_id": payload.badge_id, "learners": len(users),
                                            "awarded": written}, session=session)
    return {"badge_id": payload.badge_id, "learners": len(users), "awarded": written}


@app.task(name="tasks.achievements.sweep_tick", queue="analytics", acks_late=False, ignore_result=True)
def sweep_tick() -> dict:
    """Beat entry: one ``sweep_achievements`` job per hour (keyed by the hour: a doubled beat
    starts nothing new)."""
    from workers.relay import relay_once

    hour = utcnow().strftime("%Y%m%d%H")
    with unit_of_work(settings.database_url) as session:
        _, created = enqueueing.enqueue(session, "sweep_achievements", {"hours": 48},
                                        idempotency_key=f"achievements:sweep:{hour}")
    relay_once()
    return {"started": int(created), "hour": hour}
