"""SMTP provider (``smtplib``): one connection reused for as long as it works (a worker keeps
its provider across jobs), every call timed out."""
from __future__ import annotations

import smtplib

from domain.notifications.message import OutgoingEmail, address
from domain.notifications.providers import DeliveryRejected, ProviderUnavailable, RecipientDeferred

BOUNCE_CODES = {550, 551, 553}      # mailbox unavailable / not local / name not allowed


class SmtpProvider:
    name = "smtp"

    def __init__(self, host: str, port: int, *, timeout: float = 10.0, user: str | None = None,
                 password: str | None = None, starttls: bool = False):
        self.host, self.port, self.timeout = host, port, timeout
        self.user, self.password, self.starttls = user, password, starttls
        self._conn: smtplib.SMTP | None = None

    def _connection(self) -> smtplib.SMTP:
        if self._conn is None:
            conn = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            if self.starttls:
                conn.starttls()
            if self.user:
                conn.login(self.user, self.password or "")
            self._conn = conn
        return self._conn

    def _mail(self, sender: str) -> tuple[smtplib.SMTP, int, bytes]:
        """``MAIL FROM`` on the open connection. A connection kept from earlier may have been
        closed by the server meanwhile (idle timeout: a dropped socket or a ``421``): then, once,
        a fresh one. Nothing of this message was accepted yet, so trying again is safe."""
        reused = self._conn is not None
        conn = self._connection()
        try:
            conn.ehlo_or_helo_if_needed()
            code, reply = conn.mail(sender)
        except (smtplib.SMTPServerDisconnected, OSError):
            if not reused:
                raise
            code, reply = 421, b""
        if code == 421 and reused:
            self.close()
            conn = self._connection()
            conn.ehlo_or_helo_if_needed()
            code, reply = conn.mail(sender)
        return conn, code, reply

    def send(self, email: OutgoingEmail) -> str:
        sender = address(email.sender)
        try:
            conn, code, reply = self._mail(sender)
            if code != 250:       # the server refuses our sender: nobody's message gets through
                self._reset(conn)
                raise ProviderUnavailable(f"SMTP MAIL FROM refused: {code} {reply.decode(errors='replace')}")
            code, reply = conn.rcpt(email.to)
            if code not in (250, 251):
                self._fail(conn, code, reply)
            try:
                code, reply = conn.data(email.wire())
            except smtplib.SMTPDataError as exc:      # DATA itself refused (before the message)
                code, reply = exc.smtp_code, exc.smtp_error
            if code != 250:
                self._fail(conn, code, reply)
        except (smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError, OSError) as exc:
            self.close()
            raise ProviderUnavailable(f"SMTP {self.host}:{self.port}: {exc}") from exc
        except smtplib.SMTPException as exc:       # a refused login or STARTTLS: the account
            self.close()
            raise ProviderUnavailable(f"SMTP {self.host}:{self.port}: {exc}") from exc
        # the reply ("250 2.0.0 Ok: queued as 4Xy...") names the server's queue id when it has one
        return reply.decode(errors="replace")[:200] or email.message_id

    def _reset(self, conn: smtplib.SMTP) -> None:
        try:
            conn.rset()
        except (smtplib.SMTPException, OSError):
            self.close()

    def _fail(self, conn: smtplib.SMTP, code: int, reply: bytes) -> None:
        """A refusal at RCPT or DATA concerns this recipient or message: 421 closes the
        connection for everyone; another 4xx defers this recipient; a 5xx rejects it."""
        text = f"SMTP {code} {reply.decode(errors='replace')}"
        self._reset(conn)
        if code == 421:
            self.close()
            raise ProviderUnavailable(text)
        if 400 <= code < 500:
            raise RecipientDeferred(text)
        raise DeliveryRejected(text, bounced=code in BOUNCE_CODES)

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.quit()
            except (smtplib.SMTPException, OSError):
                self._conn.close()
            self._conn = None
