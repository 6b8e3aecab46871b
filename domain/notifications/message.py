"""One outgoing email, independent of the provider that sends it.

The Message-ID is derived from the delivery id (``<delivery-id@domain>``): a resend of the
same delivery carries the same Message-ID, so a duplicate is recognisable downstream.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.utils import formatdate, parseaddr


# CRLF line ends (what SMTP DATA expects); lines up to RFC 5322's 998 so that a long
# List-Unsubscribe URL is never folded into an encoded word.
WIRE_POLICY = policy.SMTP.clone(max_line_length=998)


@dataclass(frozen=True)
class OutgoingEmail:
    delivery_id: str
    sender: str                 # "Name <addr>"
    to: str
    subject: str
    text: str
    html: str
    unsubscribe_url: str | None = None
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def message_id(self) -> str:
        domain = parseaddr(self.sender)[1].rpartition("@")[2] or "coursework.local"
        return f"<{self.delivery_id}@{domain}>"

    def all_headers(self) -> dict[str, str]:
        """Extra headers: unsubscribe (RFC 2369 + RFC 8058 one-click) and our delivery id."""
        out = {"X-Coursework-Delivery": self.delivery_id, **self.headers}
        if self.unsubscribe_url:
            out["List-Unsubscribe"] = f"<{self.unsubscribe_url}>"
            out["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        return out

    def mime(self) -> EmailMessage:
        msg = EmailMessage(policy=WIRE_POLICY)
        msg["From"] = self.sender
        msg["To"] = self.to
        msg["Subject"] = self.subject
        msg["Date"] = formatdate(localtime=False)
        msg["Message-ID"] = self.message_id
        for name, value in self.all_headers().items():
            msg[name] = value
        msg.set_content(self.text)
        msg.add_alternative(self.html, subtype="html")
        return msg

    def wire(self) -> bytes:
        return self.mime().as_bytes()
