"""Secrets never printed: passwords inside URLs and every credential setting are masked in
``coursework config``, in log lines and in job error messages."""
from __future__ import annotations

import logging
import re
from urllib.parse import urlsplit, urlunsplit

MASK = "***"
# settings whose whole value is a credential
SECRET_WORDS = ("secret", "password", "api_key", "signing_key", "basic_auth", "token")
# scheme://user:password@host  ->  scheme://user:***@host
_URL_PASSWORD = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^:/@\s]*:)(?P<pw>[^@\s/]+)(?=@)")


def is_secret(name: str) -> bool:
    return any(word in name.lower() for word in SECRET_WORDS)


def mask_url(url: str) -> str:
    """The URL with its password (if any) replaced by ``***``."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return mask_text(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username or ''}:{MASK}@{parts.hostname or ''}"
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc))


def mask_value(name: str, value):
    if value in (None, ""):
        return value
    if is_secret(name):
        return MASK
    if isinstance(value, str) and "://" in value:
        return mask_url(value)
    return value


def mask_text(text: str, secrets: tuple[str, ...] = ()) -> str:
    """``text`` with URL passwords and the given secret values masked."""
    text = _URL_PASSWORD.sub(lambda m: m.group("head") + MASK, text)
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, MASK)
    return text


def secret_values(settings) -> tuple[str, ...]:
    """The values of every credential setting, and the passwords inside URL settings."""
    out = []
    for name, value in settings.model_dump().items():
        if not isinstance(value, str) or not value:
            continue
        if is_secret(name):
            out.append(value)
            if name.endswith("basic_auth") and ":" in value:
                out.append(value.split(":", 1)[1])
        elif "://" in value:
            try:
                password = urlsplit(value).password
            except ValueError:
                password = None
            if password:
                out.append(password)
    return tuple(sorted(set(out), key=len, reverse=True))


class RedactingFormatter(logging.Formatter):
    """Wraps a formatter: whatever it renders goes out with secrets masked."""

    def __init__(self, inner: logging.Formatter, secrets: tuple[str, ...]):
        super().__init__()
        self.inner, self.secrets = inner, secrets

    def format(self, record: logging.LogRecord) -> str:
        return mask_text(self.inner.format(record), self.secrets)
