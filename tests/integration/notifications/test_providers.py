"""The two email providers against real servers on loopback."""
from __future__ import annotations

import pytest

from domain.notifications.message import OutgoingEmail
from domain.notifications.providers import DeliveryRejected, ProviderUnavailable, RecipientDeferred
from domain.notifications.sendgrid import SendGridProvider
from domain.notifications.smtp import SmtpProvider
from cli.services import free_port


def _email(to: str, delivery_id: str = "d" * 32) -> OutgoingEmail:
    return OutgoingEmail(delivery_id=delivery_id, sender="Coursework <no-reply@coursework.test>", to=to,
                         subject="Hello", text="plain body", html="<p>html body</p>",
                         unsubscribe_url="https://cw.test/v1/notifications/unsubscribe?token=abc")


def test_smtp_sends_with_message_id_and_one_click_unsubscribe_headers(smtp_server):
    provider = SmtpProvider("127.0.0.1", smtp_server.port, timeout=5)
    try:
        first = provider.send(_email("smtp-ok@example.test", "a" * 32))
        provider.send(_email("smtp-ok@example.test", "b" * 32))      # same connection, second message
    finally:
        provider.close()
    got = smtp_server.to("smtp-ok@example.test")
    assert [m["message_id"] for m in got] == [f"<{'a' * 32}@coursework.test>", f"<{'b' * 32}@coursework.test>"]
    headers = got[0]["headers"]
    assert headers["List-Unsubscribe"] == "<https://cw.test/v1/notifications/unsubscribe?token=abc>"
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert got[0]["text"].strip() == "plain body" and "html body" in got[0]["html"]
    assert "queued as" in first


def test_smtp_5xx_recipient_is_a_bounce_and_4xx_defers_that_recipient_only(smtp_server):
    provider = SmtpProvider("127.0.0.1", smtp_server.port, timeout=5)
    try:
        with pytest.raises(DeliveryRejected) as bounce:
            provider.send(_email("bounce@example.test"))
        assert bounce.value.bounced and "550" in bounce.value.reason
        with pytest.raises(RecipientDeferred) as deferred:
            provider.send(_email("busy@example.test"))
        assert "451" in deferred.value.reason
        provider.send(_email("after-refusals@example.test"))       # the connection is still usable
    finally:
        provider.close()
    assert len(smtp_server.to("after-refusals@example.test")) == 1


def test_smtp_a_connection_the_server_dropped_is_replaced_once_before_mail_from():
    # Given a provider whose kept connection the server has closed (a restart, an idle timeout)
    from tests.integration.notifications.servers import SmtpServer

    server = SmtpServer().start()
    provider = SmtpProvider("127.0.0.1", server.port, timeout=5)
    try:
        provider.send(_email("first@example.test", "a" * 32))
        kept = provider._conn
        server.stop()
        server = SmtpServer(server.port).start()
        # When it sends the next message
        provider.send(_email("second@example.test", "b" * 32))
        # Then it went out once, on a fresh connection
        assert provider._conn is not kept
        assert [m["message_id"] for m in server.messages] == [f"<{'b' * 32}@coursework.test>"]
        # and a server that is gone for good is still a transient error, not a loop
        server.stop()
        server = None
        with pytest.raises(ProviderUnavailable):
            provider.send(_email("third@example.test", "c" * 32))
    finally:
        provider.close()
        if server is not None:
            server.stop()


def test_smtp_refused_login_is_the_channel_not_the_message():
    # Given an SMTP server that refuses every login
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            return "250 OK"

    port = free_port()
    controller = Controller(Handler(), hostname="127.0.0.1", port=port, auth_require_tls=False,
                            authenticator=lambda *args: AuthResult(success=False, handled=False))
    controller.start()
    try:
        provider = SmtpProvider("127.0.0.1", port, timeout=5, user="me", password="wrong")
        # When a message is sent, Then the whole channel is unavailable (not this message rejected)
        with pytest.raises(ProviderUnavailable) as exc:
            provider.send(_email("anyone@example.test"))
        assert "535" in str(exc.value) or "Authentication" in str(exc.value)
    finally:
        controller.stop()


def test_smtp_unreachable_is_transient():
    from cli.services import free_port

    with pytest.raises(ProviderUnavailable):
        SmtpProvider("127.0.0.1", free_port(), timeout=2).send(_email("nobody@example.test"))


def test_sendgrid_202_returns_the_message_id_and_sends_headers(sendgrid_server):
    provider = SendGridProvider(sendgrid_server.api_key, sendgrid_server.url, timeout=5)
    message_id = provider.send(_email("sg@example.test"))
    assert len(message_id) == 22
    body = sendgrid_server.requests[-1]
    assert body["personalizations"][0]["to"] == [{"email": "sg@example.test"}]
    assert body["headers"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert [c["type"] for c in body["content"]] == ["text/plain", "text/html"]
    assert body["custom_args"]["delivery_id"] == "d" * 32


@pytest.mark.parametrize("status,headers,transient,retry_after", [
    (429, {"Retry-After": "7"}, True, 7.0),
    (503, {}, True, None),
    (500, {"Retry-After": "2"}, True, 2.0),
    (401, {}, True, None),          # a bad API key: the account, not the message
    (403, {}, True, None),          # a suspended account or a sender not allowed
    (400, {}, False, None),
    (413, {}, False, None),
])
def test_sendgrid_errors_map_to_retry_or_permanent(sendgrid_server, status, headers, transient, retry_after):
    sendgrid_server.script.append((status, headers, {"errors": [{"message": f"status {status}"}]}))
    provider = SendGridProvider(sendgrid_server.api_key, sendgrid_server.url, timeout=5)
    if transient:
        with pytest.raises(ProviderUnavailable) as exc:
            provider.send(_email("sg-err@example.test"))
        assert exc.value.retry_after == retry_after
    else:
        with pytest.raises(DeliveryRejected) as exc:
            provider.send(_email("sg-err@example.test"))
        assert f"status {status}" in exc.value.reason and not exc.value.bounced
