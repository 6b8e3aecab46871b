"""Signed one-click unsubscribe tokens (RFC 8058): ``<user_id>.<type>.<hmac>``.

HMAC-SHA256 over the user and type with the platform's signing secret; nothing is stored,
and a token cannot be altered to unsubscribe someone else.
"""
from __future__ import annotations

import base64
import hashlib
import hmac

ALL_TYPES = "all"


def _mac(secret: str, user_id: str, type_name: str) -> str:
    digest = hmac.new(secret.encode(), f"unsubscribe|{user_id}|{type_name}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:20]).decode().rstrip("=")


def make_token(secret: str, user_id: str, type_name: str) -> str:
    return f"{user_id}.{type_name}.{_mac(secret, user_id, type_name)}"


def read_token(secret: str, token: str) -> tuple[str, str] | None:
    """(user_id, type) when the signature checks, else None."""
    parts = token.split(".")
    if len(parts) != 3 or not all(parts):
        return None
    user_id, type_name, mac = parts
    if not hmac.compare_digest(mac, _mac(secret, user_id, type_name)):
        return None
    return user_id, type_name


def url(base_url: str, secret: str, user_id: str, type_name: str) -> str:
    return f"{base_url.rstrip('/')}/v1/notifications/unsubscribe?token={make_token(secret, user_id, type_name)}"
