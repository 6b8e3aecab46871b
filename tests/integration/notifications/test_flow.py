"""End to end through intake and a real worker: notify, announce (fan-out), reactions,
unsubscribe, digest, the inbox API and its live stream."""
from __future__ import annotations

import threading
from datetime import date
from urllib.parse import urlsplit

import httpx
from sqlalchemy import select

from domain.db import unit_of_work
from domain.jobs import enqueueing
from domain.jobs.models import Job
from domain.notifications.models import Delivery
from intake.client import parse_sse
from tests.integration.notifications.people import make_course, make_user
from tests.support.jobs import enqueue, run_job, wait_job
from tests.support.stack import wait_for


def _follow(api: httpx.Client, user_id: str, got: list, ready: threading.Event) -> None:
    with api.stream("GET", f"/v1/users/{user_id}/notifications/stream", timeout=30) as r:
        ready.set()
        for ev in parse_sse(r.iter_lines()):
            got.append(ev)
            return


def test_notify_reaches_the_inbox_the_live_stream_and_email(api, database, smtp_server):
    # Given a learner whose browser follows their notification stream
    user = make_user(database.url, "Grace Hopper")
    live, ready = [], threading.Event()
    follower = threading.Thread(target=_follow, args=(api, user["id"], live, ready), daemon=True)
    follower.start()
    assert ready.wait(15)     # the stream answered: its cursor is fixed, every later notification reaches it
    # When a quiz_graded notification is enqueued through intake
    job = run_job(api, "notify", {"user_id": user["id"], "type": "quiz_graded",
                                  "data": {"score_pct": 87}, "link": "/courses/c1/quizzes/q1"})
    # Then it succeeds with one in-app item and one email sent
    assert job["state"] == "succeeded", job
    assert job["result"]["created"] == {"in_app": 1, "email": 1}
    assert job["result"]["email"]["sent"] == 1
    [mail] = wait_for(lambda: smtp_server.to(user["email"]), message="the email")
    assert mail["subject"] == "Your quiz was graded: 87%" and "Hi Grace Hopper" in mail["text"]
    assert mail["message_id"].startswith("<") and "/courses/c1/quizzes/q1" in mail["text"]
    # and the stream delivered it live
    follower.join(20)
    assert live and live[0]["type"] == "notification.created" and live[0]["data"]["title"].endswith("87%")
    # and the inbox shows it unread until it is marked read
    inbox = api.get(f"/v1/users/{user['id']}/notifications").json()
    assert inbox["unread"] == 1 and inbox["items"][0]["notification"]["type"] == "quiz_graded"
    item_id = inbox["items"][0]["id"]
    assert api.get(f"/v1/users/{user['id']}/notifications/unread-count").json() == {"unread": 1}
    assert api.post(f"/v1/users/{user['id']}/notifications/{item_id}/read").json() == {"unread": 0}
    assert api.post(f"/v1/users/{user['id']}/notifications/nope/read").status_code == 404


def test_bad_input_is_refused_at_intake_before_enqueueing(api, database):
    user = make_user(database.url)
    r = api.post("/v1/jobs", json={"kind": "notify", "payload": {"user_id": "missing", "type": "quiz_graded"}})
    assert r.status_code == 422 and r.json()["error"]["details"][0]["field"] == "user_id"
    r = api.post("/v1/jobs", json={"kind": "notify", "payload": {"user_id": user["id"], "type": "nope"}})
    assert r.status_code == 422 and r.json()["error"]["details"][0]["field"] == "payload.type"
    r = api.post("/v1/jobs", json={"kind": "announce", "payload": {"course_id": "missing", "title": "t", "body": "b"}})
    assert r.status_code == 422 and r.json()["error"]["details"][0]["field"] == "course_id"
    r = api.put(f"/v1/users/{user['id']}/notification-preferences",
                json={"type": "security_alert", "channel": "email", "mode": "off"})
    assert r.status_code == 422 and r.json()["error"]["details"][0]["field"] == "mode"
    assert api.get("/v1/users/missing/notifications").status_code == 404


def test_announcement_fans_out_in_chunks_once_per_learner(api, database, smtp_server):
    # Given a course of 20 learners (chunk size 7), one of whom turned announcement emails off
    course_id, users = make_course(database.url, 20)
    quiet = users[3]
    r = api.put(f"/v1/users/{quiet['id']}/notification-preferences",
                json={"type": "course_announcement", "channel": "email", "mode": "off"})
    assert r.status_code == 200, r.text
    # When the instructor announces, and the request is replayed with the same Idempotency-Key
    payload = {"course_id": course_id, "title": "Exam moved", "body": "It is on Friday now."}
    job = enqueue(api, "announce", payload, **{"Idempotency-Key": f"announce-{course_id}"})
    again = enqueue(api, "announce", payload, **{"Idempotency-Key": f"announce-{course_id}"})
    assert again["id"] == job["id"]
    done = wait_job(api, job["id"])
    # Then it fanned out 3 chunk jobs, and every learner got one in-app item and one email (but quiet)
    assert done["state"] == "succeeded" and done["result"]["chunks"] == 3 and done["result"]["recipients"] == 20
    with unit_of_work(database.url) as s:
        children = list(s.scalars(select(Job).where(Job.parent_id == job["id"])))
    assert len(children) == 3
    for child in children:
        assert wait_job(api, child.id)["state"] == "succeeded"
    for u in users:
        expected = 0 if u is quiet else 1
        assert len(smtp_server.to(u["email"])) == expected, u
        assert api.get(f"/v1/users/{u['id']}/notifications/unread-count").json()["unread"] == 1


def test_unsubscribe_link_turns_the_type_off_in_one_click(api, database, smtp_server):
    user = make_user(database.url, "Link Clicker")
    run_job(api, "notify", {"user_id": user["id"], "type": "assignment_graded", "data": {"score_pct": 70}})
    [mail] = wait_for(lambda: smtp_server.to(user["email"]), message="the email")
    header = mail["headers"]["List-Unsubscribe"]
    assert mail["headers"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    parts = urlsplit(header.strip("<>"))
    path = f"{parts.path}?{parts.query}"
    public = httpx.Client(base_url=str(api.base_url), timeout=10)          # no API key: a mail client
    page = public.get(path)
    assert page.status_code == 200 and "<form method='post'" in page.text
    assert public.post(path.replace("token=", "token=x"), content=b"List-Unsubscribe=One-Click",
                       headers={"Content-Type": "application/x-www-form-urlencoded"}).status_code == 400
    done = public.post(path, content=b"List-Unsubscribe=One-Click",
                       headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert done.status_code == 200 and "Unsubscribed" in done.text
    prefs = api.get(f"/v1/users/{user['id']}/notification-preferences").json()["preferences"]
    assert {"type": "assignment_graded", "channel": "email", "mode": "off"}.items() <= next(
        p for p in prefs if p["type"] == "assignment_graded" and p["channel"] == "email").items()
    job = run_job(api, "notify", {"user_id": user["id"], "type": "assignment_graded", "data": {"score_pct": 90}})
    assert job["result"]["created"] == {"in_app": 1, "email": 0}
    assert len(smtp_server.to(user["email"])) == 1


def test_graded_event_from_another_family_notifies_the_learner(api, database, smtp_server):
    # Given a learner; When the grading family emits quiz.graded (twice: a redelivered job)
    user = make_user(database.url, "Event Learner")
    data = {"user_id": user["id"], "course_id": "c-42", "quiz_id": "q-1", "attempt_id": f"a-{user['id']}",
            "score_pct": 64}
    started = []
    for _ in range(2):
        with unit_of_work(database.url) as s:
            started.append([(job.kind, job.id) for job in enqueueing.emit(s, None, "quiz.graded", data, user_id=user["id"])])
    # Then both emits name the same one notify job, it succeeds, and the learner got one email
    assert started[0] == started[1] and [kind for kind, _ in started[0]].count("notify") == 1, started
    [job_id] = [job_id for kind, job_id in started[0] if kind == "notify"]
    assert wait_job(api, job_id)["state"] == "succeeded"
    assert len(smtp_server.to(user["email"])) == 1
    assert smtp_server.to(user["email"])[0]["subject"] == "Your quiz was graded: 64%"


def test_daily_digest_collects_digest_items_into_one_email(api, database, smtp_server):
    from tasks.notifications import queue_digests

    # Given a learner with two digest-mode notifications (badge_earned, lesson_reminder default to digest)
    user = make_user(database.url, "Digest Reader")
    run_job(api, "notify", {"user_id": user["id"], "type": "badge_earned", "data": {"badge_name": "Streak"}})
    run_job(api, "notify", {"user_id": user["id"], "type": "lesson_reminder", "data": {"lesson_title": "L2"}})
    assert smtp_server.to(user["email"]) == []
    # When the beat entry runs (twice: a doubled beat)
    day = date.today().isoformat()
    first, second = queue_digests(day), queue_digests(day)
    assert first["started"] >= 1 and second["started"] == 0      # the doubled beat started nothing new
    # Then the user's one digest job succeeds, its email lists both items, both rows are marked digested
    with unit_of_work(database.url) as s:
        [digest_job] = s.scalars(select(Job.id).where(Job.kind == "send_digest",
                                                      Job.idempotency_key == f"digest:{user['id']}:{day}")).all()
    assert wait_job(api, digest_job)["state"] == "succeeded"
    [mail] = smtp_server.to(user["email"])
    assert mail["subject"] == "Your daily summary: 2 update(s)" and "Streak" in mail["text"]
    with unit_of_work(database.url) as s:
        statuses = sorted(s.scalars(select(Delivery.status).where(Delivery.user_id == user["id"],
                                                                  Delivery.channel == "email")))
    assert statuses == ["digested", "digested", "sent"]


def test_a_greylisted_learner_holds_back_no_one_and_is_sent_once_later(api, database, smtp_server):
    # Given a course of 10 learners (chunk size 7) and one mailbox that answers 451 for now
    course_id, users = make_course(database.url, 10)
    grey = users[2]["email"]
    smtp_server.recorder.rcpt_replies[grey] = "451 4.7.1 greylisted, try again later"
    try:
        # When the instructor announces
        job = enqueue(api, "announce", {"course_id": course_id, "title": "Lab opens", "body": "Room 4."})
        assert wait_job(api, job["id"])["state"] == "succeeded"
        with unit_of_work(database.url) as s:
            chunk_of = {c.id for c in s.scalars(select(Job).where(Job.parent_id == job["id"]))}
        # Then every other learner gets their email while the greylisted one's chunk waits to retry
        others = [u for u in users if u["email"] != grey]
        wait_for(lambda: all(len(smtp_server.to(u["email"])) == 1 for u in others), message="the others' emails")
        wait_for(lambda: any(api.get(f"/v1/jobs/{c}").json()["job"]["state"] == "retrying" for c in chunk_of),
                 message="the chunk with the greylisted learner retrying")
        assert smtp_server.to(grey) == []
    finally:
        # When the mailbox accepts mail again
        smtp_server.recorder.rcpt_replies.pop(grey, None)
    # Then the chunk's retry sends that one email, and nobody got a second one
    for c in chunk_of:
        assert wait_job(api, c)["state"] == "succeeded"
    assert len(smtp_server.to(grey)) == 1
    assert all(len(smtp_server.to(u["email"])) == 1 for u in others)
    with unit_of_work(database.url) as s:
        attempts = dict(s.execute(select(Delivery.user_id, Delivery.attempts).where(
            Delivery.user_id.in_([u["id"] for u in users]), Delivery.channel == "email")).all())
    assert {attempts[u["id"]] for u in others} == {1} and attempts[users[2]["id"]] >= 2
