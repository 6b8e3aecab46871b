"""One purpose, one key: the HMAC keys of file URLs, unsubscribe links, tutor stream tokens and
video playback tokens
are derived from the signing secret with HKDF-SHA256, one ``info`` label per purpose, so a
value signed for one purpose never verifies for another, and no purpose uses the secret itself.

Rotation: set the new ``COURSEWORK_SIGNING_SECRET``, move the old one to
``COURSEWORK_SIGNING_PREVIOUS_SECRET`` and set ``COURSEWORK_SIGNING_PREVIOUS_UNTIL`` to when links
and tokens signed with it may stop working (their longest lifetime from now). Until then the
previous secret's keys still verify; new values are always signed with the current one.
"""
from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

PURPOSES = ("files", "unsubscribe", "tutor-stream", "video-playback")


@lru_cache(maxsize=64)
def derive(secret: str, purpose: str) -> bytes:
    if purpose not in PURPOSES:
        raise ValueError(f"unknown key purpose {purpose!r}")
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"coursework",
                info=f"coursework/{purpose}/v1".encode()).derive(secret.encode())


@dataclass(frozen=True)
class KeyRing:
    """``current`` signs; every key in ``accepted`` (current first) verifies."""

    current: bytes
    accepted: tuple[bytes, ...]

    def matches(self, mac_of, signature: str) -> bool:
        """Whether ``signature`` equals ``mac_of(key)`` for any accepted key (constant-time each)."""
        return any(hmac.compare_digest(mac_of(key), signature) for key in self.accepted)


def ring(purpose: str, secret: str, previous: str | None = None, previous_until: datetime | None = None,
         now: datetime | None = None) -> KeyRing:
    current = derive(secret, purpose)
    accepted = [current]
    now = now or datetime.now(timezone.utc)
    if previous and previous != secret and previous_until is not None and now < _aware(previous_until):
        accepted.append(derive(previous, purpose))
    return KeyRing(current, tuple(accepted))


def as_ring(keys: "KeyRing | str", purpose: str) -> KeyRing:
    """A ring as is, or the ring of a bare secret (no previous one) for ``purpose``."""
    return keys if isinstance(keys, KeyRing) else ring(purpose, keys)


def from_settings(settings, purpose: str) -> KeyRing:
    return ring(purpose, settings.signing_secret, settings.signing_previous_secret,
                settings.signing_previous_until)


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=timezone.utc)
