"""The email provider interface and the errors a provider raises.

``send`` returns the provider's message id. Errors say whom they concern:

- ``ProviderUnavailable``: the channel, not this message ("try again later" for everyone:
  timeouts, connection refused, 429, 5xx, a refused login or sender, a suspended account;
  ``retry_after`` when the provider says so). The sender pauses the channel and hands the
  rows back untried.
- ``RecipientDeferred``: this recipient only, for now (an SMTP 4xx at RCPT or DATA: a
  greylisting or full mailbox). The sender retries that row alone, later.
- ``DeliveryRejected``: this message will never be accepted (an SMTP 5xx at RCPT or DATA,
  a 4xx from an HTTP API that is about the message).
"""
from __future__ import annotations

from typing import Protocol

from domain.jobs.errors import TransientError
from domain.notifications.message import OutgoingEmail


class ProviderUnavailable(TransientError):
    code = "provider_unavailable"


class RecipientDeferred(Exception):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class DeliveryRejected(Exception):
    def __init__(self, reason: str, *, bounced: bool = False):
        super().__init__(reason)
        self.reason = reason
        self.bounced = bounced      # the address itself is bad: suppress it


class EmailProvider(Protocol):
    name: str

    def send(self, email: OutgoingEmail) -> str: ...

    def close(self) -> None: ...


def from_settings(settings) -> EmailProvider:
    """The configured provider (``COURSEWORK_EMAIL_PROVIDER``: smtp | sendgrid)."""
    if settings.email_provider == "smtp":
        from domain.notifications.smtp import SmtpProvider

        return SmtpProvider(settings.smtp_host, settings.smtp_port, timeout=settings.smtp_timeout,
                            user=settings.smtp_user, password=settings.smtp_password,
                            starttls=settings.smtp_starttls)
    if settings.email_provider == "sendgrid":
        from domain.notifications.sendgrid import SendGridProvider

        return SendGridProvider(settings.sendgrid_api_key or "", settings.sendgrid_base_url,
                                timeout=settings.smtp_timeout)
    raise ValueError(f"COURSEWORK_EMAIL_PROVIDER must be smtp or sendgrid, not {settings.email_provider!r}")
