"""Claim → send → mark against PostgreSQL and real loopback mail servers (in-process)."""
from __future__ import annotations

import secrets
from datetime import timedelta
from functools import partial

import pytest
from sqlalchemy import select, update

from domain.db import get_engine, unit_of_work, utcnow
from domain.jobs.errors import TransientError
from domain.jobs.models import JobEvent
from domain.notifications import deliveries, inbox, preferences, sending, types
from domain.notifications.models import Delivery, Suppression
from domain.notifications.providers import ProviderUnavailable
from domain.notifications.sendgrid import SendGridProvider
from domain.notifications.smtp import SmtpProvider
from tests.integration.notifications.people import make_course, make_user

CONFIG = sending.SendConfig(sender="Coursework <no-reply@coursework.test>", base_url="https://cw.test",
                            secret="s3cret", claim_batch=3, stale_after=5, defer_cap=60)


def _announce(url: str, users: list[dict], type_name: str = "course_announcement", priority=None) -> str:
    with unit_of_work(url) as s:
        note = deliveries.upsert_notification(s, type_name=type_name, data={"course_title": "Testing"},
                                              title="Exam moved", body="Now on Friday.", link="/courses/x",
                                              dedupe_key=f"t:{secrets.token_hex(6)}", priority=priority)
        deliveries.add_deliveries(s, note, [u["id"] for u in users])
        return note.id


def _database(url):
    """What a sender is handed: a unit-of-work factory and the engine for its own connection."""
    return partial(unit_of_work, url), get_engine(url)


def _sender(url, smtp_server, owner="run-1", provider=None):
    provider = provider or SmtpProvider("127.0.0.1", smtp_server.port, timeout=5)
    return sending.Sender(*_database(url), provider, CONFIG, owner)


def _statuses(url, note_id) -> dict[str, str]:
    with unit_of_work(url) as s:
        return dict(s.execute(select(Delivery.user_id, Delivery.status)
                              .where(Delivery.notification_id == note_id, Delivery.channel == types.EMAIL)).all())


def test_each_recipient_is_sent_once_and_a_rerun_sends_nothing(database, smtp_server):
    # Given an announcement to 7 learners (claimed 3 at a time)
    _, users = make_course(database.url, 7)
    note_id = _announce(database.url, users)
    # When two runs send it one after the other
    first = _sender(database.url, smtp_server).send_all(sending.scope(note_id))
    second = _sender(database.url, smtp_server, owner="run-2").send_all(sending.scope(note_id))
    # Then every learner got exactly one email, with their name, a link and an unsubscribe link
    assert first["sent"] == 7 and second["sent"] == 0
    for u in users:
        got = smtp_server.to(u["email"])
        assert len(got) == 1, u
        assert f"Hi {u['name']}" in got[0]["text"] and "https://cw.test/courses/x" in got[0]["text"]
        assert got[0]["headers"]["List-Unsubscribe"].startswith("<https://cw.test/v1/notifications/unsubscribe?")
    with unit_of_work(database.url) as s:
        rows = list(s.scalars(select(Delivery).where(Delivery.notification_id == note_id,
                                                     Delivery.channel == types.EMAIL)))
        assert {r.status for r in rows} == {"sent"} and all(r.provider_message_id for r in rows)
        assert all(f"<{r.id}@coursework.test>" in [m["message_id"] for m in smtp_server.to(
            next(u["email"] for u in users if u["id"] == r.user_id))] for r in rows)


def test_in_app_rows_and_events_are_created_once(database):
    _, users = make_course(database.url, 3)
    note_id = _announce(database.url, users)
    with unit_of_work(database.url) as s:
        note = s.get(deliveries.Notification, note_id)
        again = deliveries.add_deliveries(s, note, [u["id"] for u in users])      # a rerun adds nothing
    assert again == {"in_app": 0, "email": 0}
    with unit_of_work(database.url) as s:
        events = list(s.scalars(select(JobEvent).where(JobEvent.type == "notification.created",
                                                       JobEvent.user_id.in_([u["id"] for u in users]))))
        assert sorted(e.user_id for e in events) == sorted(u["id"] for u in users)
        assert all(e.data["notification_id"] == note_id and e.data["title"] == "Exam moved" for e in events)
        uid = users[0]["id"]
        assert inbox.unread_count(s, uid) == 1
        item = inbox.items(s, uid)[0]
        assert item["notification"]["title"] == "Exam moved"
        assert inbox.mark_read(s, uid, item["id"]) and not inbox.mark_read(s, users[1]["id"], item["id"])
        assert inbox.unread_count(s, uid) == 0
        # expired items leave the inbox
        s.execute(update(Delivery).where(Delivery.user_id == users[1]["id"])
                  .values(expires_at=utcnow() - timedelta(seconds=1)))
        assert inbox.unread_count(s, users[1]["id"]) == 0 and inbox.items(s, users[1]["id"]) == []
        assert inbox.mark_all_read(s, users[2]["id"]) == 1 and inbox.unread_count(s, users[2]["id"]) == 0
    # the beat clean-up deletes expired in-app items only, and a rerun finds nothing more
    with unit_of_work(database.url) as s:
        assert inbox.purge_expired(s) >= 1
        assert inbox.purge_expired(s) == 0
        left = s.scalars(select(Delivery.user_id).where(Delivery.notification_id == note_id,
                                                        Delivery.channel == "in_app")).all()
        assert sorted(left) == sorted([users[0]["id"], users[2]["id"]])


def test_a_claim_knows_whether_it_was_the_last_one(database, smtp_server):
    # Given exactly one batch of learners (3), and a sender that counts its claims
    _, users = make_course(database.url, 3)
    note_id = _announce(database.url, users)
    sender = _sender(database.url, smtp_server)
    claims = []
    real_claim = sender.db.claim
    sender.db.claim = lambda *a, **kw: claims.append(1) or real_claim(*a, **kw)
    # When it sends them
    assert sender.send_all(sending.scope(note_id))["sent"] == 3
    # Then one claim was enough: it saw nothing else in scope
    assert len(claims) == 1
    # Given a full batch and one more row held by a live sender beyond it
    _, users = make_course(database.url, 4)
    note_id = _announce(database.url, users)
    held = sorted(u["id"] for u in users)[-1]
    with unit_of_work(database.url) as s:
        s.execute(update(Delivery).where(Delivery.user_id == held, Delivery.channel == types.EMAIL)
                  .values(status="sending", claimed_by="other", claimed_at=utcnow()))
    # Then the job sends the others and retries later for that one
    with pytest.raises(TransientError):
        _sender(database.url, smtp_server, owner="run-2").send_all(sending.scope(note_id))
    assert sorted(u for u, st in _statuses(database.url, note_id).items() if st == "sent") == \
        sorted(u["id"] for u in users if u["id"] != held)


def test_a_live_claim_is_left_alone_and_a_stale_one_is_taken_over(database, smtp_server):
    _, users = make_course(database.url, 2)
    note_id = _announce(database.url, users)
    victim = users[0]
    with unit_of_work(database.url) as s:     # another sender holds a fresh claim on one row
        s.execute(update(Delivery).where(Delivery.user_id == victim["id"], Delivery.channel == types.EMAIL)
                  .values(status="sending", claimed_by="other", claimed_at=utcnow()))
    with pytest.raises(TransientError) as exc:
        _sender(database.url, smtp_server).send_all(sending.scope(note_id))
    assert "still claimed" in str(exc.value) and exc.value.retry_after == CONFIG.stale_after
    assert smtp_server.to(victim["email"]) == [] and len(smtp_server.to(users[1]["email"])) == 1
    with unit_of_work(database.url) as s:     # that sender died: its claim goes stale
        s.execute(update(Delivery).where(Delivery.user_id == victim["id"])
                  .values(claimed_at=utcnow() - timedelta(seconds=60)))
    assert _sender(database.url, smtp_server, owner="run-3").send_all(sending.scope(note_id))["sent"] == 1
    assert len(smtp_server.to(victim["email"])) == 1 and len(smtp_server.to(users[1]["email"])) == 1


class _Killed(BaseException):
    """Stands for SIGKILL: nothing after it runs (no release, no mark)."""


def test_a_sender_killed_between_the_250_and_its_mark_resends_only_that_message(database, smtp_server):
    # Given an announcement to 5 learners and a sender that dies right after the server's 250
    # for the second message, before recording it
    _, users = make_course(database.url, 5)
    note_id = _announce(database.url, users)
    doomed = _sender(database.url, smtp_server, owner="doomed")
    real_mark = doomed._mark

    def mark_then_die(delivery_id, status, **kw):
        if doomed.counts["sent"] == 1:
            raise _Killed()
        real_mark(delivery_id, status, **kw)

    doomed._mark = mark_then_die
    with pytest.raises(_Killed):
        doomed.send_all(sending.scope(note_id))
    assert sum(len(smtp_server.to(u["email"])) for u in users) == 2
    # When its claims go stale and another sender takes over
    with unit_of_work(database.url) as s:
        s.execute(update(Delivery).where(Delivery.claimed_by == "doomed")
                  .values(claimed_at=utcnow() - timedelta(seconds=60)))
    assert _sender(database.url, smtp_server, owner="rescuer").send_all(sending.scope(note_id))["sent"] == 4
    # Then nobody is missed, and only the message in flight at the "kill" went out twice,
    # both copies with the same Message-ID (its delivery row's)
    copies = {u["email"]: [m["message_id"] for m in smtp_server.to(u["email"])] for u in users}
    assert sorted(len(v) for v in copies.values()) == [1, 1, 1, 1, 2]
    [twice] = [v for v in copies.values() if len(v) == 2]
    assert twice[0] == twice[1]
    assert set(_statuses(database.url, note_id).values()) == {"sent"}


def test_preferences_and_suppressions_are_checked_at_send_time(database, smtp_server):
    changed_mind = make_user(database.url, "Changed Mind")
    suppressed = make_user(database.url, "Suppressed")
    bouncing = make_user(database.url, "Bouncing", email="bounce@example.test")
    fine = make_user(database.url, "Fine")
    people = [changed_mind, suppressed, bouncing, fine]
    note_id = _announce(database.url, people)
    with unit_of_work(database.url) as s:      # after fan-out, before sending
        preferences.set_mode(s, changed_mind["id"], "course_announcement", types.EMAIL, types.OFF)
        preferences.suppress(s, suppressed["email"], "complaint")
    counts = _sender(database.url, smtp_server).send_all(sending.scope(note_id))
    assert counts == {"sent": 1, "skipped": 2, "bounced": 1, "failed": 0, "digest": 0, "deferred": 0}
    status = _statuses(database.url, note_id)
    assert status[changed_mind["id"]] == "skipped" and status[suppressed["id"]] == "skipped"
    assert status[bouncing["id"]] == "bounced" and status[fine["id"]] == "sent"
    assert smtp_server.to(changed_mind["email"]) == [] and smtp_server.to(suppressed["email"]) == []
    with unit_of_work(database.url) as s:      # a hard bounce suppresses the address from now on
        assert s.get(Suppression, "bounce@example.test").reason.startswith("bounced: SMTP 550")


def test_urgent_ignores_an_off_preference_and_has_no_unsubscribe_link(database, smtp_server):
    user = make_user(database.url, "Urgent Reader")
    with unit_of_work(database.url) as s:
        with pytest.raises(preferences.PreferenceError):
            preferences.set_mode(s, user["id"], "security_alert", types.EMAIL, types.OFF)
        preferences.set_mode(s, user["id"], "course_announcement", types.EMAIL, types.OFF)
    note_id = _announce(database.url, [user], priority=types.URGENT)
    _sender(database.url, smtp_server).send_all(sending.scope(note_id))
    [got] = smtp_server.to(user["email"])
    assert "List-Unsubscribe" not in got["headers"] and got["headers"]["X-Priority"] == "1"


def test_sendgrid_429_releases_the_claim_and_reports_retry_after(database, sendgrid_server):
    _, users = make_course(database.url, 2)
    note_id = _announce(database.url, users)
    sendgrid_server.script.append((429, {"Retry-After": "3"}, {"errors": [{"message": "too many"}]}))
    provider = SendGridProvider(sendgrid_server.api_key, sendgrid_server.url, timeout=5)
    with pytest.raises(ProviderUnavailable) as exc:
        _sender(database.url, None, provider=provider).send_all(sending.scope(note_id))
    assert exc.value.retry_after == 3.0
    assert set(_statuses(database.url, note_id).values()) == {"pending"}
    # the job's retry sends both; a 400 for one of them fails only that delivery
    sendgrid_server.script.append((400, {}, {"errors": [{"message": "invalid to"}]}))
    counts = _sender(database.url, None, owner="retry", provider=provider).send_all(sending.scope(note_id))
    assert counts["sent"] == 1 and counts["failed"] == 1
    with unit_of_work(database.url) as s:
        failed = s.scalar(select(Delivery).where(Delivery.notification_id == note_id, Delivery.status == "failed"))
        # the 429 was the channel's answer, not a try of this message: one attempt counted
        assert "invalid to" in failed.last_error and failed.attempts == 1


def _rows(url, note_id) -> dict[str, Delivery]:
    with unit_of_work(url) as s:
        return {r.user_id: r for r in s.scalars(select(Delivery).where(Delivery.notification_id == note_id,
                                                                      Delivery.channel == types.EMAIL))}


def _due_now(url, note_id) -> None:
    """Time passes: every deferred row of the notification is due."""
    with unit_of_work(url) as s:
        s.execute(update(Delivery).where(Delivery.notification_id == note_id, Delivery.next_attempt_at.is_not(None))
                  .values(next_attempt_at=utcnow() - timedelta(seconds=1)))


@pytest.fixture
def greylisted(smtp_server):
    """A fresh address the SMTP server answers 451 at RCPT for, until the test lets it through."""
    address = f"grey-{secrets.token_hex(4)}@example.test"
    smtp_server.recorder.rcpt_replies[address] = "451 4.7.1 greylisted, try again later"
    yield address
    smtp_server.recorder.rcpt_replies.pop(address, None)


def test_one_recipients_temporary_refusal_defers_it_alone(database, smtp_server, greylisted):
    # Given an announcement to 7 learners (claimed 3 at a time), one of them greylisted
    course_id, users = make_course(database.url, 6)
    grey = make_user(database.url, "Grey Listed", greylisted)
    note_id = _announce(database.url, [*users, grey])
    # When it is sent
    with pytest.raises(TransientError) as exc:
        _sender(database.url, smtp_server).send_all(sending.scope(note_id))
    # Then everyone else got their one email at once; only the greylisted row waits, tried once
    assert 0 < exc.value.retry_after <= CONFIG.defer_cap
    assert all(len(smtp_server.to(u["email"])) == 1 for u in users)
    rows = _rows(database.url, note_id)
    assert rows[grey["id"]].status == "pending" and rows[grey["id"]].attempts == 1
    assert rows[grey["id"]].next_attempt_at > utcnow() and "451" in rows[grey["id"]].last_error
    assert all(rows[u["id"]].status == "sent" and rows[u["id"]].attempts == 1 for u in users)
    # When the job's retry comes before the recipient is due, nothing is tried
    with pytest.raises(TransientError):
        _sender(database.url, smtp_server, owner="early").send_all(sending.scope(note_id))
    assert _rows(database.url, note_id)[grey["id"]].attempts == 1
    # When the mailbox accepts again and the row is due, it alone is sent, once
    smtp_server.recorder.rcpt_replies.pop(greylisted)
    _due_now(database.url, note_id)
    counts = _sender(database.url, smtp_server, owner="later").send_all(sending.scope(note_id))
    assert counts["sent"] == 1
    assert len(smtp_server.to(greylisted)) == 1 and all(len(smtp_server.to(u["email"])) == 1 for u in users)
    assert _rows(database.url, note_id)[grey["id"]].attempts == 2


def test_a_recipient_deferred_max_attempts_times_fails_alone(database, smtp_server, greylisted):
    # Given a learner whose mailbox never stops refusing, beside two others
    _, users = make_course(database.url, 2)
    grey = make_user(database.url, "Always Busy", greylisted)
    note_id = _announce(database.url, [*users, grey])
    config = sending.SendConfig(**{**CONFIG.__dict__, "max_attempts": 2})
    # When the job runs until the row has been tried max_attempts times (each time it is due)
    for run in range(3):
        try:
            sending.Sender(*_database(database.url), SmtpProvider("127.0.0.1", smtp_server.port, timeout=5), config,
                           f"run-{run}").send_all(sending.scope(note_id))
        except TransientError:
            _due_now(database.url, note_id)
    # Then that row alone failed, after exactly its own attempts; the others were sent once
    rows = _rows(database.url, note_id)
    assert rows[grey["id"]].status == "failed" and rows[grey["id"]].attempts == 3
    assert "451" in rows[grey["id"]].last_error
    assert all(rows[u["id"]].status == "sent" and rows[u["id"]].attempts == 1 for u in users)
    assert all(len(smtp_server.to(u["email"])) == 1 for u in users)


def test_an_account_refusal_pauses_the_channel_and_counts_no_attempt(database, sendgrid_server, redis_server):
    import redis

    from domain.notifications.ratelimit import RateLimiter

    # Given SendGrid refusing the API key (401) and a channel shared by two senders
    _, users = make_course(database.url, 3)
    note_id = _announce(database.url, users)
    client = redis.Redis.from_url(redis_server.url)
    name = f"sendgrid-{secrets.token_hex(3)}"
    provider = SendGridProvider(sendgrid_server.api_key, sendgrid_server.url, timeout=5)
    sendgrid_server.script.append((401, {}, {"errors": [{"message": "bad key"}]}))
    first = sending.Sender(*_database(database.url), provider, CONFIG, "one", RateLimiter(client, name, 1000, max_wait=0))
    # When a sender meets it
    with pytest.raises(ProviderUnavailable):
        first.send_all(sending.scope(note_id))
    # Then no row lost an attempt, and the channel is paused for every sender
    assert {(r.status, r.attempts) for r in _rows(database.url, note_id).values()} == {("pending", 0)}
    second = sending.Sender(*_database(database.url), provider, CONFIG, "two", RateLimiter(client, name, 1000, max_wait=0))
    asked = len(sendgrid_server.requests)
    with pytest.raises(ProviderUnavailable) as exc:
        second.send_all(sending.scope(note_id))
    assert len(sendgrid_server.requests) == asked, "a paused channel sent a request"
    assert 0 < exc.value.retry_after <= CONFIG.pause_default
    assert {(r.status, r.attempts) for r in _rows(database.url, note_id).values()} == {("pending", 0)}
    # When the pause is over and the account works again, each learner gets one email, one attempt
    client.delete(RateLimiter(client, name, 1000).paused_key)
    counts = sending.Sender(*_database(database.url), provider, CONFIG, "three",
                            RateLimiter(client, name, 1000, max_wait=0)).send_all(sending.scope(note_id))
    assert counts["sent"] == 3
    assert {(r.status, r.attempts) for r in _rows(database.url, note_id).values()} == {("sent", 1)}


def test_a_paused_channel_shows_on_the_platform_metrics(redis_server):
    import redis

    from domain.notifications.ratelimit import RateLimiter, paused_channels

    client = redis.Redis.from_url(redis_server.url)
    name = f"provider-{secrets.token_hex(3)}"
    assert name not in paused_channels(client)
    RateLimiter(client, name, 10).pause(30)
    assert 0 < paused_channels(client)[name] <= 30
