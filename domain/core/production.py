"""What production mode refuses, as one list of problems, each naming its setting.

``COURSEWORK_ENV=production`` makes every process (intake, worker, beat, relay, flower) call
``refuse_to_start`` before it serves anything; ``coursework config --check`` prints the same
list without starting anything. Development (the default) only warns in ``config --check``.
"""
from __future__ import annotations

import os
import sys
from urllib.parse import urlparse

MIN_SECRET_BYTES = 32


def _default(settings, name: str):
    return type(settings).model_fields[name].default


def problems(settings) -> list[str]:
    out = []
    secret = settings.signing_secret or ""
    if secret == _default(settings, "signing_secret"):
        out.append("COURSEWORK_SIGNING_SECRET is the built-in development default; set a random secret of "
                   f"at least {MIN_SECRET_BYTES} bytes")
    elif len(secret.encode()) < MIN_SECRET_BYTES:
        out.append(f"COURSEWORK_SIGNING_SECRET is shorter than {MIN_SECRET_BYTES} bytes")
    previous = settings.signing_previous_secret
    if previous and len(previous.encode()) < MIN_SECRET_BYTES:
        out.append(f"COURSEWORK_SIGNING_PREVIOUS_SECRET is shorter than {MIN_SECRET_BYTES} bytes")
    if previous and settings.signing_previous_until is None:
        out.append("COURSEWORK_SIGNING_PREVIOUS_SECRET is set without COURSEWORK_SIGNING_PREVIOUS_UNTIL "
                   "(it would never be accepted)")
    key_file = getattr(settings, "certificate_key_file", None)
    if not key_file:
        out.append("COURSEWORK_CERTIFICATE_KEY_FILE is not set; certificates need a configured Ed25519 key file")
    elif not os.access(key_file, os.R_OK):
        out.append(f"COURSEWORK_CERTIFICATE_KEY_FILE names no readable file ({key_file})")
    auth = settings.flower_basic_auth or ""
    user, _, password = auth.partition(":")
    if auth == _default(settings, "flower_basic_auth"):
        out.append("COURSEWORK_FLOWER_BASIC_AUTH is the default admin:admin")
    elif not user or not password:
        out.append("COURSEWORK_FLOWER_BASIC_AUTH must be user:password with both parts non-empty")
    if urlparse(settings.public_base_url or "").scheme != "https":
        out.append("COURSEWORK_PUBLIC_BASE_URL is not https; browsers reach signed links and tokens through it")
    return out


def refuse_to_start(settings, process: str) -> None:
    """In production, exit with status 2 and one line per problem (each naming its setting)."""
    if settings.env != "production":
        return
    found = problems(settings)
    if found:
        for problem in found:
            print(f"coursework {process}: refusing to start in production: {problem}", file=sys.stderr)
        raise SystemExit(2)
