"""The bytes we send, read back by the standard library's modern parser (email.policy.default):
non-ASCII display names, long non-ASCII subjects, and the plain-text digest."""
from __future__ import annotations

import re
import secrets
from email import message_from_bytes, policy
from functools import partial

from domain.db import get_engine, unit_of_work
from domain.notifications import deliveries, render, sending
from domain.notifications.message import OutgoingEmail
from domain.notifications.smtp import SmtpProvider
from tests.integration.notifications.people import make_user

SENDER = "Université Coursework — École <no-reply@coursework.test>"
SUBJECT = "Примечание: экзамен перенесён на пятницу, аудитория 4, принесите калькулятор и удостоверение " * 3
ENCODED_WORD = re.compile(r"=\?[^?]+\?[bBqQ]\?[^?]*\?=")


def _headers_block(raw: bytes) -> list[str]:
    return raw.split(b"\r\n\r\n", 1)[0].decode("ascii").split("\r\n")


def _header_lines(lines: list[str], names: tuple[str, ...]) -> list[str]:
    """The physical lines of the named headers (each with its continuation lines)."""
    out, keep = [], False
    for line in lines:
        if not line[:1].isspace():
            keep = line.split(":", 1)[0] in names
        if keep:
            out.append(line)
    return out


def test_non_ascii_sender_and_long_subject_parse_back_exactly(database, smtp_server):
    # Given a notification with a long Cyrillic subject, from a sender with a non-ASCII display name
    user = make_user(database.url, "Zoë Ångström", f"zoe-{secrets.token_hex(4)}@example.test")
    with unit_of_work(database.url) as s:
        note = deliveries.upsert_notification(s, type_name="course_announcement", data={}, title=SUBJECT.strip(),
                                              body="Bring a calculator.", link=None,
                                              dedupe_key=f"fmt:{secrets.token_hex(4)}")
        deliveries.add_deliveries(s, note, [user["id"]])
        note_id = note.id
    config = sending.SendConfig(sender=SENDER, base_url="https://cw.test", secret="s3cret")
    # When it is sent over SMTP
    sending.Sender(partial(unit_of_work, database.url), get_engine(database.url),
                   SmtpProvider("127.0.0.1", smtp_server.port, timeout=5), config, "fmt").send_all(sending.scope(note_id))
    [got] = smtp_server.to(user["email"])
    # Then the modern parser reads the sender's name and address apart, and the subject exactly
    msg = message_from_bytes(got["raw"], policy=policy.default)
    [sender] = msg["From"].addresses
    assert (sender.display_name, sender.addr_spec) == ("Université Coursework — École", "no-reply@coursework.test")
    assert msg["Subject"] == SUBJECT.strip()
    assert msg["To"].addresses[0].addr_spec == user["email"]
    # And the wire form follows RFC 2047 and RFC 5322: encoded words of at most 75 characters,
    # header lines of at most 78, the address outside any encoded word
    lines = _headers_block(got["raw"])
    ours = _header_lines(lines, ("From", "To", "Subject"))
    assert len(ours) > 4 and all(len(line) <= 78 for line in ours), ours
    words = [w for line in lines for w in ENCODED_WORD.findall(line)]
    assert len(words) > 3 and all(len(w) <= 75 for w in words), words
    unfolded = " ".join(lines)
    assert re.search(r"From: (=\?[^ ]+\?=\s+)+<no-reply@coursework\.test>", unfolded), unfolded


def test_plain_text_digest_has_one_item_per_line():
    # Given a digest of three items, two with links
    items = [{"title": "Quiz graded: 92%", "link": "https://cw.test/q/1"},
             {"title": "New announcement", "link": None},
             {"title": "Certificate ready", "link": "https://cw.test/c/2"}]
    out = render.render("daily_digest", user={"id": "u1", "name": "Ada", "email": "ada@example.test"},
                        data={"items": items}, link=None, unsubscribe_url="https://cw.test/u")
    email = OutgoingEmail("d" * 32, SENDER, "ada@example.test", out.subject, out.text, out.html)
    # When the sent bytes are read back
    text = message_from_bytes(email.wire(), policy=policy.default).get_body(("plain",)).get_content()
    # Then each item is a line of its own
    lines = text.splitlines()
    assert "- Quiz graded: 92% (https://cw.test/q/1)" in lines
    assert "- New announcement" in lines
    assert "- Certificate ready (https://cw.test/c/2)" in lines
