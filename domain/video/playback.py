"""Playback tokens: a learner's signed, expiring access to one version of one lesson's video.

The token is the first segment of a tokenised path, ``/v1/play/<token>/cmaf/master.m3u8``;
every manifest lists its files by relative URI, so a player resolves them under the same
token and one signature covers the whole tree (the pattern CDNs call token-in-path; see the
video docs). ``<token>`` = base64url(JSON claims) ``.`` base64url(HMAC-SHA256 of that text),
with the ``video-playback`` purpose key (``domain.core.purpose_keys``: derived from the signing
secret for this use only; tokens signed before a rotation verify until the previous secret's end).
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
from dataclasses import dataclass

from domain.core.purpose_keys import KeyRing, ring

# what may follow the token: the version's own files, never a way out of its prefix
PATH = re.compile(r"^(cmaf|thumbs)/([A-Za-z0-9_-]+/)?[A-Za-z0-9_-]+\.(m3u8|mpd|mp4|m4s|jpg|vtt)$")


class InvalidToken(ValueError):
    pass


@dataclass(frozen=True)
class Claims:
    asset_id: str
    version: int
    learner_id: str
    lesson_id: str
    expires_at: int


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


PURPOSE = "video-playback"


def keys(secret: str) -> KeyRing:
    """The ring of a bare secret (tests, tools); the platform uses ``purpose_keys.from_settings``."""
    return ring(PURPOSE, secret)


def _mac(key: bytes, body: str) -> str:
    return _b64(hmac.new(key, body.encode(), hashlib.sha256).digest())


def mint(keyring: KeyRing, claims: Claims) -> str:
    body = _b64(json.dumps({"a": claims.asset_id, "v": claims.version, "u": claims.learner_id,
                            "l": claims.lesson_id, "e": claims.expires_at}, separators=(",", ":")).encode())
    return f"{body}.{_mac(keyring.current, body)}"


def verify(keyring: KeyRing, token: str, now: float | None = None) -> Claims:
    body, sep, sig = token.partition(".")
    if not sep or not body or not sig:
        raise InvalidToken("malformed token")
    if not keyring.matches(lambda key: _mac(key, body), sig):
        raise InvalidToken("bad signature")
    try:
        raw = json.loads(_unb64(body))
        claims = Claims(str(raw["a"]), int(raw["v"]), str(raw["u"]), str(raw["l"]), int(raw["e"]))
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidToken("malformed claims") from exc
    if claims.expires_at < (time.time() if now is None else now):
        raise InvalidToken("expired")
    return claims


def check_path(path: str) -> str:
    if not PATH.match(path):
        raise InvalidToken("no such file in a video")
    return path
