"""Short-lived signed stream tokens: a browser may follow one session's replies, nothing else."""
from __future__ import annotations

import base64
import hashlib
import hmac
import time

from domain.core.purpose_keys import KeyRing, as_ring

PURPOSE = "tutor-stream"


class TokenError(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code, self.message = code, message


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(key: bytes, body: str) -> str:
    return _b64(hmac.new(key, f"tutor-stream:{body}".encode(), hashlib.sha256).digest())


def mint(keys: KeyRing | str, session_id: str, ttl: int, now: float | None = None) -> tuple[str, int]:
    """A token for ``session_id`` signed with the current stream key (``keys``: the ring, or the
    signing secret the ring is derived from)."""
    expires = int((now if now is not None else time.time()) + ttl)
    body = _b64(f"{session_id}.{expires}".encode())
    return f"{body}.{_sign(as_ring(keys, PURPOSE).current, body)}", expires


def verify(keys: KeyRing | str, token: str, session_id: str, now: float | None = None) -> None:
    """Raises TokenError(code) unless the token is genuine, unexpired, and for ``session_id``."""
    try:
        body, sig = token.split(".", 1)
        sid, expires = _unb64(body).decode().rsplit(".", 1)
        expires_at = int(expires)
    except (ValueError, UnicodeDecodeError):
        raise TokenError("invalid_token", "the stream token is malformed") from None
    if not as_ring(keys, PURPOSE).matches(lambda key: _sign(key, body), sig):
        raise TokenError("invalid_token", "the stream token signature does not match")
    if sid != session_id:
        raise TokenError("token_mismatch", "the stream token belongs to another session")
    if (now if now is not None else time.time()) >= expires_at:
        raise TokenError("token_expired", "the stream token has expired; ask for a new one")
