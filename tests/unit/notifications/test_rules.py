from email import message_from_bytes, policy

import pytest
from pydantic import ValidationError

from domain.notifications import preferences, types, unsubscribe
from domain.notifications.kinds import REACTIONS, AnnouncePayload, NotifyPayload
from domain.notifications.message import WIRE_POLICY, OutgoingEmail


def test_unsubscribe_token_round_trips_and_rejects_tampering():
    token = unsubscribe.make_token("secret", "user1", "quiz_graded")
    assert unsubscribe.read_token("secret", token) == ("user1", "quiz_graded")
    user, kind, mac = token.split(".")
    assert unsubscribe.read_token("secret", f"user2.{kind}.{mac}") is None
    assert unsubscribe.read_token("secret", f"{user}.badge_earned.{mac}") is None
    assert unsubscribe.read_token("other-secret", token) is None
    assert unsubscribe.read_token("secret", "garbage") is None
    assert unsubscribe.url("https://cw.test/", "secret", "u", "t").startswith(
        "https://cw.test/v1/notifications/unsubscribe?token=u.t.")


def test_effective_preference_defaults_stored_and_urgent_lock():
    assert preferences.effective("quiz_graded", types.EMAIL, None) == types.IMMEDIATE
    assert preferences.effective("badge_earned", types.EMAIL, None) == types.DIGEST
    assert preferences.effective("submission_evaluated", types.EMAIL, None) == types.OFF
    assert preferences.effective("quiz_graded", types.EMAIL, types.OFF) == types.OFF
    assert preferences.effective("security_alert", types.EMAIL, types.OFF) == types.IMMEDIATE


def test_message_carries_a_stable_message_id_and_rfc8058_headers():
    email = OutgoingEmail(delivery_id="abc123", sender="Coursework <no-reply@mail.cw.test>", to="a@b.test",
                          subject="Héllo", text="plain ünïcode", html="<p>html</p>",
                          unsubscribe_url="https://cw.test/v1/notifications/unsubscribe?token=" + "x" * 120)
    wire = email.wire()
    assert b"\r\n" in wire and all(len(line) <= 998 for line in wire.split(b"\r\n"))
    msg = message_from_bytes(wire, policy=policy.default)
    assert msg["Message-ID"] == "<abc123@mail.cw.test>" == email.message_id
    assert msg["List-Unsubscribe"] == f"<{email.unsubscribe_url}>"          # one piece, not encoded
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert msg["Subject"] == "Héllo" and msg.get_body(("plain",)).get_content() == "plain ünïcode"
    plain = OutgoingEmail(delivery_id="d", sender="a@b.test", to="c@d.test", subject="s", text="t", html="h")
    assert "List-Unsubscribe" not in plain.all_headers()


def test_graded_events_become_one_deterministic_notify_job():
    event = {"user_id": "u1", "course_id": "c1", "quiz_id": "q1", "attempt_id": "a1", "score_pct": 80}
    first, again = REACTIONS["quiz.graded"](event), REACTIONS["quiz.graded"](dict(event))
    assert first == again and len(first) == 1
    job = first[0]
    assert job.kind == "notify" and job.idempotency_key == "notify:quiz.graded:a1:u1"
    assert job.payload["type"] == "quiz_graded" and job.payload["link"] == "/courses/c1/quizzes/q1"
    NotifyPayload.model_validate(job.payload)
    for name, fn in REACTIONS.items():
        assert fn({"course_id": "c1"}) == [], name           # no learner named: nothing to notify
        assert fn({"user_id": "x" * 99, "course_id": "c1"}) == [], name     # malformed: never raises


def test_payloads_are_bounded_and_strict():
    with pytest.raises(ValidationError):
        NotifyPayload.model_validate({"user_id": "u", "type": "nope"})
    with pytest.raises(ValidationError):
        NotifyPayload.model_validate({"user_id": "u", "type": "daily_digest"})
    with pytest.raises(ValidationError):
        NotifyPayload.model_validate({"user_id": "u", "type": "quiz_graded", "extra": 1})
    with pytest.raises(ValidationError):
        AnnouncePayload.model_validate({"course_id": "c", "title": "", "body": "b"})
    with pytest.raises(ValidationError):
        AnnouncePayload.model_validate({"course_id": "c", "title": "t", "body": "b", "priority": "loud"})
    assert AnnouncePayload.model_validate({"course_id": "c", "title": "t", "body": "b"}).priority == "normal"


@pytest.mark.parametrize("subject,to", [
    ("Exam moved", "ada@example.test"),
    ("Prüfung verschoben ✓", "Ada Lovelace <ada@example.test>"),
    ("double  spaces\tand a tab  ", "Lovelace, Ada <ada@example.test>"),
    ("=?utf-8?q?looks_encoded?=", "ada@example.test"),
    ("x" * 1200, "ada@example.test"),
])
def test_the_fast_header_path_writes_what_compat32_writes(subject, to):
    email = OutgoingEmail(delivery_id="d1", sender="Coursework <no-reply@cw.test>", to=to, subject=subject,
                          text="Hi,\n" + "a long line " * 40, html="<p>Hi</p>",
                          unsubscribe_url="https://cw.test/v1/notifications/unsubscribe?token=" + "t" * 150)
    msg = email.mime()
    legacy = policy.compat32.clone(linesep="\r\n", max_line_length=998)
    assert msg.as_bytes(policy=WIRE_POLICY) == msg.as_bytes(policy=legacy)
