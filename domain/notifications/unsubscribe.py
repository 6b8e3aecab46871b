"""Signed one-click unsubscribe tokens (RFC 8058): ``<user_id>.<type>.<hmac>``.

HMAC-SHA256 over the user and type with the unsubscribe key (derived from the signing secret
for this purpose only, ``domain.core.purpose_keys``); nothing is stored, and a token cannot be
altered to unsubscribe someone else.
"""
from __future__ import annotations

import base64
import hashlib
import hmac

from domain.core.purpose_keys import KeyRing, as_ring

ALL_TYPES = "all"
PURPOSE = "unsubscribe"


def _mac(key: bytes, user_id: str, type_name: str) -> str:
    digest = hmac.new(key, f"unsubscribe|{user_id}|{type_name}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:20]).decode().rstrip("=")


def make_token(keys: KeyRing | str, user_id: str, type_name: str) -> str:
    return f"{user_id}.{type_name}.{_mac(as_ring(keys, PURPOSE).current, user_id, type_name)}"


def read_token(keys: KeyRing | str, token: str) -> tuple[str, str] | None:
    """(user_id, type) when the signature checks, else None."""
    parts = token.split(".")
    if len(parts) != 3 or not all(parts):
        return None
    user_id, type_name, mac = parts
    if not as_ring(keys, PURPOSE).matches(lambda key: _mac(key, user_id, type_name), mac):
        return None
    return user_id, type_name


def url(base_url: str, keys: KeyRing | str, user_id: str, type_name: str) -> str:
    return f"{base_url.rstrip('/')}/v1/notifications/unsubscribe?token={make_token(keys, user_id, type_name)}"
