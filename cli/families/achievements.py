"""`coursework achievements ...` and the achievements demo step.

    coursework achievements seed                # the default badge set (skillEd's badge types), once
    coursework achievements backfill SLUG [--notify]   # award a badge over the history (a job)
"""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone


def seed(db_url: str) -> list[str]:
    """The default badges not defined yet; returns the slugs added."""
    from sqlalchemy import select

    from domain.achievements import catalog
    from domain.achievements.defaults import DEFAULTS
    from domain.achievements.kinds import BadgeDefinition
    from domain.achievements.models import Badge
    from domain.db import unit_of_work

    added = []
    with unit_of_work(db_url) as s:
        have = set(s.scalars(select(Badge.slug)))
        for definition in DEFAULTS:
            if definition["slug"] not in have:
                catalog.create(s, BadgeDefinition.model_validate(definition).model_dump())
                added.append(definition["slug"])
    return added


def cmd_achievements(args) -> int:
    from celeryconfig import settings

    if args.achievements_command == "seed":
        print(json.dumps({"added": seed(settings.database_url)}))
        return 0
    from sqlalchemy import select

    from domain.achievements.models import Badge
    from domain.db import unit_of_work
    from domain.jobs import enqueueing
    from workers import events

    events.install()
    with unit_of_work(settings.database_url) as s:
        badge = s.scalar(select(Badge).where(Badge.slug == args.slug))
        if badge is None:
            print(f"no badge {args.slug!r} (coursework achievements seed adds the defaults)")
            return 2
        job, created = enqueueing.enqueue(s, "backfill_badge", {"badge_id": badge.id, "notify": args.notify},
                                       caller="cli", idempotency_key=f"backfill:{badge.id}:{args.run}")
    print(json.dumps({"job_id": job.id, "created": created}))
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser("achievements", help="achievements: seed the default badges, backfill one")
    sub = p.add_subparsers(dest="achievements_command", required=True)
    sub.add_parser("seed", help="define the default badge set (those not defined yet)").set_defaults(
        fn=cmd_achievements)
    b = sub.add_parser("backfill", help="award a badge over the whole history (a backfill_badge job)")
    b.add_argument("slug", help="the badge's slug, e.g. seven_day_streak")
    b.add_argument("--notify", action="store_true", help="send the badge notification for backfilled awards")
    b.add_argument("--run", default="1", help="a new value starts a new backfill of the same badge")
    b.set_defaults(fn=cmd_achievements)


def demo(d) -> bool:
    """A learner with a week of early lessons and top quiz scores: seed the default badges, send
    the events, roll up, evaluate, and print the badges earned, the progress toward the others
    and one Open Badges 3.0 credential."""
    import secrets
    from urllib.parse import urlsplit

    from domain.core.models import User
    from domain.db import unit_of_work

    d.say(f"default badges seeded: {', '.join(seed(d.db_url)) or 'already there'}")
    uid = f"demo-badges-{secrets.token_hex(3)}"
    with unit_of_work(d.db_url) as s:
        s.add(User(id=uid, email=f"{uid}@demo.local", name="Bea Early", timezone="Asia/Tokyo"))
    tokyo_6am = datetime.now(timezone.utc).replace(hour=21, minute=0, second=0, microsecond=0) - timedelta(days=8)
    events = []
    for day in range(7):          # 7 days in a row, a lesson at 06:00 in Tokyo, then a perfect quiz
        at = tokyo_6am + timedelta(days=day)
        events.append({"event_id": f"{uid}-l{day}", "type": "lesson_completed", "user_id": uid,
                       "course_id": "demo-badges", "lesson_id": f"l{day}", "occurred_at": at.isoformat()})
        events.append({"event_id": f"{uid}-q{day}", "type": "quiz_graded", "user_id": uid,
                       "course_id": "demo-badges", "score": 100, "occurred_at": (at + timedelta(minutes=20)).isoformat()})
    accepted = d.client.request("POST", "/v1/events", json={"events": events})
    d.client.wait(accepted["job"]["id"], timeout=60)
    d.run("rollup", {})
    job = d.run("evaluate_achievements", {"user_id": uid})
    d.say(f"evaluate_achievements {job['state']}: {job.get('result')}")
    mine = d.client.request("GET", f"/v1/users/{uid}/achievements")
    for a in mine["earned"]:
        d.say(f"earned {a['badge']:<18} #{a['occurrence']}  {a['earned_at'][:19]}")
    for p in mine["progress"][:3]:
        d.say(f"toward {p['badge']:<18} " + ", ".join(f"{r['rule']} {r['have']} of {r['need']}" for r in p["progress"]))
    first = mine["earned"][0] if mine["earned"] else None
    if first:
        cred = d.client.request("GET", urlsplit(first["credential_url"]).path)
        d.say(f"credential of {first['badge']}: {cred['type']}, proof {cred['proof'][0]['cryptosuite']}")
    earned = {a["badge"] for a in mine["earned"]}
    return job["state"] == "succeeded" and {"seven_day_streak", "early_bird", "high_scorer", "perfect_score"} <= earned
