"""SendGrid provider: the official ``sendgrid`` library, v3 ``/v3/mail/send``, base URL configurable."""
from __future__ import annotations

import socket
import urllib.error

from python_http_client import exceptions as http_errors
from sendgrid import SendGridAPIClient
from sendgrid.helpers.mail import Content, CustomArg, From, Header, Mail, To

from domain.notifications.message import OutgoingEmail
from domain.notifications.providers import DeliveryRejected, ProviderUnavailable


ACCOUNT_STATUSES = {401, 403, 429}


def _retry_after(headers) -> float | None:
    value = headers.get("Retry-After") if headers is not None else None
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


class SendGridProvider:
    name = "sendgrid"

    def __init__(self, api_key: str, base_url: str = "https://api.sendgrid.com", *, timeout: float = 10.0):
        self.client = SendGridAPIClient(api_key, host=base_url.rstrip("/"))
        self.timeout = timeout

    def build(self, email: OutgoingEmail) -> dict:
        mail = Mail(from_email=From(*_split(email.sender)), to_emails=To(email.to), subject=email.subject)
        mail.add_content(Content("text/plain", email.text))
        mail.add_content(Content("text/html", email.html))
        for name, value in email.all_headers().items():
            mail.add_header(Header(name, value))
        mail.add_custom_arg(CustomArg("delivery_id", email.delivery_id))
        return mail.get()

    def send(self, email: OutgoingEmail) -> str:
        try:
            response = self.client.client.mail.send.post(request_body=self.build(email), timeout=self.timeout)
        except http_errors.HTTPError as exc:
            body = exc.body.decode(errors="replace") if isinstance(exc.body, bytes) else str(exc.body)
            text = f"SendGrid {exc.status_code}: {body[:500]}"
            # the account (401 bad key, 403 suspended or not allowed) or the service (429, 5xx):
            # nobody's message would get through, so the channel waits; the message is not at fault
            if exc.status_code in ACCOUNT_STATUSES or exc.status_code >= 500:
                raise ProviderUnavailable(text, retry_after=_retry_after(exc.headers)) from None
            raise DeliveryRejected(text) from None
        except (urllib.error.URLError, socket.timeout, OSError) as exc:
            raise ProviderUnavailable(f"SendGrid unreachable: {exc}") from exc
        return (response.headers.get("X-Message-Id") if response.headers else None) or email.message_id

    def close(self) -> None:
        pass


def _split(sender: str) -> tuple[str, str | None]:
    from email.utils import parseaddr

    name, addr = parseaddr(sender)
    return addr, name or None
