"""`coursework analytics ...` and the analytics demo step.

`coursework analytics rollup [--full]` folds new learning events into the rollups in-process
(the beat entry does the same every COURSEWORK_ROLLUP_INTERVAL_SECONDS).
"""
from __future__ import annotations

import json
import random
from datetime import datetime, timedelta, timezone


def cmd_rollup(args) -> int:
    from functools import partial

    from celeryconfig import settings
    from domain.analytics import rollup
    from domain.db import unit_of_work

    print(json.dumps(rollup.run(partial(unit_of_work, settings.database_url), full=args.full,
                                trending_days=settings.trending_window_days)))
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser("analytics", help="analytics: run a rollup now")
    sub = p.add_subparsers(dest="analytics_command", required=True)
    r = sub.add_parser("rollup", help="fold new learning events into the rollup tables (or --full rebuild)")
    r.add_argument("--full", action="store_true", help="rebuild every rollup from all events, not only new ones")
    r.set_defaults(fn=cmd_rollup)


def _events(now: datetime) -> list[dict]:
    rnd = random.Random(7)
    learners = ["demo-ana-tokyo", "demo-ana-lima", "demo-ana-oslo"]
    out, n = [], 0

    def ev(type_, user, at, **kw):
        nonlocal n
        n += 1
        out.append({"event_id": f"demo-ana-{n}", "type": type_, "user_id": user,
                    "occurred_at": at.isoformat(), **kw})

    for i, user in enumerate(learners):
        ev("enrollment", user, now - timedelta(days=9, hours=i), course_id="demo-ana-course")
        for day in range(9, -1, -1):
            if rnd.random() < 0.25 and day not in (0, 1):
                continue
            at = now - timedelta(days=day, hours=rnd.randint(0, 5))
            ev("video_watched", user, at, course_id="demo-ana-course", lesson_id=f"l{day}", seconds=rnd.randint(120, 900))
            ev("lesson_completed", user, at + timedelta(minutes=15), course_id="demo-ana-course", lesson_id=f"l{day}")
            ev("submission_evaluated", user, at + timedelta(minutes=20), exercise_id=f"ex{day % 4}", topic="loops",
               score=float(rnd.randint(40, 100)))
        ev("quiz_graded", user, now - timedelta(hours=1), course_id="demo-ana-course", score=float(60 + 10 * i))
    return out


def demo(d) -> bool:
    from domain.core.models import User
    from domain.db import unit_of_work
    from intake.client import ApiError

    with unit_of_work(d.db_url) as s:
        for uid, tz in (("demo-ana-tokyo", "Asia/Tokyo"), ("demo-ana-lima", "America/Lima"),
                        ("demo-ana-oslo", "Europe/Oslo")):
            if s.get(User, uid) is None:
                s.add(User(id=uid, email=f"{uid}@demo.local", name=uid, timezone=tz, weekly_goal_minutes=45))
    now = datetime.now(timezone.utc) - timedelta(minutes=5)
    events = _events(now)
    bad = [dict(events[0]), dict(events[1], occurred_at="not a time")]
    try:
        d.client.request("POST", "/v1/events", json={"events": bad})
        d.say("a malformed batch was accepted (unexpected)")
        return False
    except ApiError as exc:   # the error envelope
        d.say(f"malformed batch rejected whole: {getattr(exc, 'details', exc)}")
    accepted = d.client.request("POST", "/v1/events", json={"events": events})
    job = d.client.wait(accepted["job"]["id"], timeout=60)
    d.say(f"POST /v1/events: {accepted['accepted']} events → ingest_events {job['state']} {job.get('result')}")
    roll = d.run("rollup", {})
    d.say(f"rollup {roll['state']}: {json.dumps(roll.get('result'))[:160]}")
    course = d.client.request("GET", "/v1/analytics/courses/demo-ana-course")
    d.say(f"course totals: {course['totals']}")
    d.say(f"course popularity: {course['popularity']}")
    learner = d.client.request("GET", "/v1/analytics/learners/demo-ana-tokyo")
    d.say(f"learner demo-ana-tokyo: streak {learner['current_streak']} (longest {learner['longest_streak']}), "
          f"{learner['lessons_completed']} lessons, week {learner['week']}")
    board = d.client.request("GET", "/v1/analytics/leaderboard", params={"topic": "loops"})
    d.say("leaderboard 'loops': " + ", ".join(f"{e['rank']}. {e['user_id']} {e['points']}" for e in board["entries"]))
    today = now.date()
    rep = d.run("report", {"report": "learner_progress", "start": (today - timedelta(days=14)).isoformat(),
                           "end": (today + timedelta(days=1)).isoformat()})
    result = rep.get("result") or {}
    d.say(f"report {rep['state']}: {result.get('rows')} rows; csv {result.get('csv_url')}")
    d.say(f"chart {result.get('chart_url')}")
    return all(j["state"] == "succeeded" for j in (job, roll, rep)) and learner["lessons_completed"] > 0
