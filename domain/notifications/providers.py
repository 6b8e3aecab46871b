"""The email provider interface and the errors a provider raises.

``send`` returns the provider's message id. A provider raises ``ProviderUnavailable`` for
"try again later" (timeouts, 429, 5xx, SMTP 4xx; ``retry_after`` when the provider says so)
and ``DeliveryRejected`` when this message will never be accepted (other 4xx, SMTP 5xx).
"""
from __future__ import annotations

from typing import Protocol

from domain.jobs.errors import TransientError
from domain.notifications.message import OutgoingEmail


class ProviderUnavailable(TransientError):
    code = "provider_unavailable"


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
