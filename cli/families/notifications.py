"""`coursework notifications ...` subcommands and the demo step of the notifications family.

    coursework notifications deliveries [--notification ID] [--status failed] [--limit 50]   # the delivery log
    coursework notifications suppress someone@example.com --reason "complaint"
    coursework notifications unsuppress someone@example.com
    coursework notifications digests [--day 2026-11-24]     # what the daily beat entry does, now
"""
from __future__ import annotations

import sys


def _settings():
    from celeryconfig import settings

    return settings


def cmd_notifications(args) -> int:
    from sqlalchemy import delete, select

    from domain.db import unit_of_work
    from domain.notifications import preferences
    from domain.notifications.models import Delivery, Suppression

    url = _settings().database_url
    if args.action == "digests":
        from workers import events
        from tasks.notifications import queue_digests

        events.install()
        print(queue_digests(args.day))
        return 0
    if args.action in ("suppress", "unsuppress"):
        if not args.email:
            print("give an email address", file=sys.stderr)
            return 2
        with unit_of_work(url) as s:
            if args.action == "suppress":
                preferences.suppress(s, args.email, args.reason or "manual")
            else:
                s.execute(delete(Suppression).where(Suppression.email == args.email.lower()))
        print(f"{args.action}ed {args.email.lower()}")
        return 0
    with unit_of_work(url) as s:
        stmt = select(Delivery).order_by(Delivery.created_at.desc()).limit(args.limit)
        if args.notification:
            stmt = stmt.where(Delivery.notification_id == args.notification)
        if args.status:
            stmt = stmt.where(Delivery.status == args.status)
        for d in s.scalars(stmt):
            print(f"{d.id}  {d.channel:6} {d.status:9} user={d.user_id} attempts={d.attempts} "
                  f"provider={d.provider or '-'} id={(d.provider_message_id or '-')[:40]}  {(d.last_error or '')[:60]}")
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser("notifications", help="delivery log, email suppressions, run the daily digests")
    p.add_argument("action", choices=["deliveries", "suppress", "unsuppress", "digests"],
                   help="deliveries: the delivery log; suppress / unsuppress an email; digests: run the daily digests")
    p.add_argument("email", nargs="?", default=None, help="the address to suppress or unsuppress")
    p.add_argument("--notification", default=None, help="only this notification's deliveries")
    p.add_argument("--status", default=None, help="only deliveries in this status (sent, failed, skipped...)")
    p.add_argument("--limit", type=int, default=50, help="show at most this many deliveries (default 50)")
    p.add_argument("--reason", default=None, help="why the address is suppressed (suppress)")
    p.add_argument("--day", default=None, help="ISO date for digests (default: today)")
    p.set_defaults(fn=cmd_notifications)


def demo(d) -> bool:
    """A course of five learners (one took announcement emails off): announce to the course,
    then a quiz_graded notification; print the emails the local SMTP server got and the inboxes."""
    import secrets
    import time

    from sqlalchemy import select

    from domain.core.models import Course, Enrollment, User
    from domain.db import unit_of_work
    from domain.jobs.models import Job
    from domain.notifications import preferences, types

    tag = secrets.token_hex(3)
    with unit_of_work(d.db_url) as s:
        course = Course(slug=f"notify-demo-{tag}", title="Data Structures")
        names = ["Ada Lovelace", "Alan Turing", "Grace Hopper", "Edsger Dijkstra", "Barbara Liskov"]
        users = [User(email=f"{n.split()[0].lower()}-{tag}@example.test", name=n) for n in names]
        s.add_all([course, *users])
        s.flush()
        s.add_all([Enrollment(user_id=u.id, course_id=course.id) for u in users])
        preferences.set_mode(s, users[4].id, "course_announcement", types.EMAIL, types.OFF)
        course_id, people = course.id, [(u.id, u.name, u.email) for u in users]
    job = d.run("announce", {"course_id": course_id, "title": "Midterm moved to Friday",
                             "body": "The midterm is now on Friday at 10:00."})
    d.say(f"announce: {job['state']}  {job['result']}")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with unit_of_work(d.db_url) as s:
            states = list(s.scalars(select(Job.state).where(Job.parent_id == job["id"])))
        if states and all(st in ("succeeded", "failed", "dead_lettered") for st in states):
            break
        time.sleep(0.3)
    d.say(f"chunk jobs: {states}")
    graded = d.run("notify", {"user_id": people[0][0], "type": "quiz_graded",
                              "data": {"score_pct": 92, "course_id": course_id}, "link": f"/courses/{course_id}"})
    d.say(f"notify: {graded['state']}  {graded['result']}")
    for uid, name, _ in people:
        unread = d.client.request("GET", f"/v1/users/{uid}/notifications/unread-count")["unread"]
        d.say(f"inbox of {name:16} unread={unread}")
    # the jobs above sent their emails before they succeeded: what the sink holds now is final
    mine = d.mail.to({email.lower() for _, _, email in people})
    d.say(f"emails received by the local SMTP server for this course's learners: {len(mine)} (4 announcements, 1 grade)")
    for to, msg in mine[-2:]:
        d.say(f"  to={to}  subject={msg['Subject']!r}  List-Unsubscribe-Post={msg['List-Unsubscribe-Post']}")
    return (job["state"] == graded["state"] == "succeeded" and all(st == "succeeded" for st in states)
            and len(mine) == 5)
