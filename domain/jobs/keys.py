"""API keys: random, shown once, stored as a SHA-256 hash (the key has 256 bits of entropy,
so a fast hash is enough; no password stretching needed)."""
from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from domain.db import utcnow
from domain.jobs.models import ApiKey

from domain.jobs.kinds import FAMILIES

# scope -> what it allows (shown in the OpenAPI security scheme and docs/security.md)
SCOPES = {
    "read": "read jobs (the key's own), job kinds, and family data (submissions, sessions, certificates, "
            "analytics)",
    "enqueue": "write to every family: enqueue jobs, create submissions, videos, tutor sessions, events; "
               "cancel the key's own jobs",
    **{f"enqueue:{family}": f"write to the {family} family only (its jobs and endpoints)"
       for family in FAMILIES if family != "ping"},
    "operate": "operators: every caller's jobs (system reactions too), retries, certificate revocation, "
               "admin-only job kinds, ping drills (sleep, failures, worker crash), error tracebacks",
}


def hash_key(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def create(session: Session, name: str, scopes: list[str]) -> tuple[ApiKey, str]:
    bad = [s for s in scopes if s not in SCOPES]
    if bad or not scopes:
        raise ValueError(f"scopes must be a non-empty subset of {', '.join(SCOPES)}; got {scopes}")
    raw = "cw_" + secrets.token_urlsafe(32)
    key = ApiKey(name=name, prefix=raw[:10], key_hash=hash_key(raw), scopes=sorted(set(scopes)))
    session.add(key)
    session.flush()
    return key, raw


def lookup(session: Session, raw: str) -> ApiKey | None:
    key = session.scalar(select(ApiKey).where(ApiKey.key_hash == hash_key(raw)))
    if key is None or key.revoked_at is not None:
        return None
    return key


def revoke(session: Session, key_id: str) -> bool:
    key = session.get(ApiKey, key_id)
    if key is None or key.revoked_at is not None:
        return False
    key.revoked_at = utcnow()
    return True
