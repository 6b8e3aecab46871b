"""One outgoing email, independent of the provider that sends it.

The Message-ID is derived from the delivery id (``<delivery-id@domain>``): a resend of the
same delivery carries the same Message-ID, so a duplicate is recognisable downstream.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from email import policy
from email.charset import QP, Charset
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.header import Header
from email.utils import formataddr, formatdate, parseaddr
from functools import lru_cache


class _WirePolicy(type(policy.compat32)):
    """compat32 whose header folding skips its ``Header`` round trip for a plain one-line ASCII
    value that already fits (most headers of every message); anything
    else (non-ASCII, encoded words, long or multi-line values) goes the usual way."""

    def _fold(self, name, value, sanitize):
        if isinstance(value, Folded):
            return f"{name}: {value}{self.linesep}"
        if (isinstance(value, str) and value.isascii() and "\n" not in value and "\r" not in value
                and "=?" not in value and len(name) + len(value) + 2 <= self.max_line_length):
            return f"{name}: {value}{self.linesep}"
        return super()._fold(name, value, sanitize)


class Folded(str):
    """A header value already encoded and folded for the wire (see ``folded``)."""


ADDRESS_HEADERS = {"From", "To", "Reply-To"}
WORD_LINE = 76      # a folded line of one encoded word: a space and at most 75 characters (RFC 2047)


@lru_cache(maxsize=256)
def folded(name: str, value: str) -> Folded:
    """A header value with non-ASCII text as RFC 2047 encoded words of at most 75 characters on
    folded lines; in an address header the display name alone is encoded and the address stays
    readable. What the standard library's modern parser (``email.policy.default``) reads back is
    the value itself. (The modern policy's own folder drops a space at some fold points on
    Python 3.11, so the words are made by ``email.header.Header``, whose words carry their spaces.)
    Line breaks in the value become spaces: a header is one logical line."""
    value = " ".join(value.splitlines())
    if name in ADDRESS_HEADERS:
        display, addr = parseaddr(value)
        if not display or display.isascii():
            return Folded(formataddr((display, addr)))
        words = Header(display, "utf-8", maxlinelen=WORD_LINE, header_name=name).encode(linesep="\r\n")
        return Folded(f"{words}\r\n <{addr}>")
    return Folded(Header(value, "utf-8", maxlinelen=WORD_LINE, header_name=name).encode(linesep="\r\n"))


def header_value(name: str, value: str) -> str:
    """ASCII values as they are (the fast path); anything else through the modern policy."""
    return value if value.isascii() and "\n" not in value and "\r" not in value else folded(name, value)


# CRLF line ends (what SMTP DATA expects), headers up to RFC 5322's 998 characters
WIRE_POLICY = _WirePolicy(linesep="\r\n", max_line_length=998)
UTF8_QP = Charset("utf-8")
UTF8_QP.body_encoding = QP          # readable bodies (quoted-printable), not base64


@lru_cache(maxsize=64)
def address(name_and_address: str) -> str:
    """``"Name <a@b>"`` → ``"a@b"`` (the sender is the same for every message: parsed once)."""
    return parseaddr(name_and_address)[1]


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
        domain = address(self.sender).rpartition("@")[2] or "coursework.local"
        return f"<{self.delivery_id}@{domain}>"

    def all_headers(self) -> dict[str, str]:
        """Extra headers: unsubscribe (RFC 2369 + RFC 8058 one-click) and our delivery id."""
        out = {"X-Coursework-Delivery": self.delivery_id, **self.headers}
        if self.unsubscribe_url:
            out["List-Unsubscribe"] = f"<{self.unsubscribe_url}>"
            out["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        return out

    def mime(self) -> MIMEMultipart:
        """multipart/alternative (text + HTML). The compat32 classes: cheaper to build than
        ``EmailMessage`` and they never re-encode a long URL header."""
        # our own random boundary: the generator would otherwise compile a regex per message
        # to pick one that the text cannot contain
        msg = MIMEMultipart("alternative", boundary=f"==cw-{secrets.token_hex(16)}==")
        msg["From"] = header_value("From", self.sender)
        msg["To"] = header_value("To", self.to)
        msg["Subject"] = header_value("Subject", self.subject)
        msg["Date"] = formatdate(localtime=False)
        msg["Message-ID"] = self.message_id
        for name, value in self.all_headers().items():
            msg[name] = value
        msg.attach(MIMEText(self.text, "plain", UTF8_QP))
        msg.attach(MIMEText(self.html, "html", UTF8_QP))
        return msg

    def wire(self) -> bytes:
        """The message as SMTP DATA wants it: CRLF line ends."""
        return self.mime().as_bytes(policy=WIRE_POLICY)
