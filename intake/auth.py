"""API-key authentication, scopes, and a per-key rate limit kept in Redis."""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import redis
from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from celeryconfig import settings
from domain.db import session_factory
from domain.jobs import keys
from intake.errors import ApiError

log = logging.getLogger(__name__)
_CACHE_TTL = 10.0


@dataclass(frozen=True)
class Caller:
    key_id: str
    name: str
    scopes: frozenset[str]

    def can(self, scope: str) -> bool:
        return scope in self.scopes


_cache: dict[str, tuple[float, Caller | None]] = {}


def _raw_key(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip() or None
    return request.headers.get("x-api-key") or None


def _lookup(raw: str) -> Caller | None:
    """The key's caller from the database (None: unknown or revoked), cached for a few seconds."""
    now = time.monotonic()
    with session_factory(settings.database_url)() as s:
        key = keys.lookup(s, raw)
        caller = Caller(key.id, key.name, frozenset(key.scopes)) if key else None
    _cache[raw] = (now, caller)
    return caller


def forget_cached_keys() -> None:
    _cache.clear()


_LIMITER_PAUSE = 2.0               # seconds the limiter stays open after Redis failed it
_limiter_away_until = 0.0


async def rate_limit(request: Request, caller: Caller) -> None:
    """Fixed one-minute window per key (INCR + EXPIRE in one round trip, on the event loop).
    Fails open if Redis is down or slow (its client gives up within a quarter second, then the
    limiter does not ask Redis again for a couple of seconds), so intake still accepts jobs
    into the outbox, at its normal pace, while the broker is away."""
    limit = settings.rate_limit_per_minute
    if limit <= 0:
        return
    global _limiter_away_until
    if time.monotonic() < _limiter_away_until:     # Redis failed a moment ago: do not wait on it again
        return
    window = int(time.time() // 60)
    rkey = f"cw:ratelimit:{caller.key_id}:{window}"
    try:
        pipe = request.app.state.limiter_redis.pipeline()
        pipe.incr(rkey)
        pipe.expire(rkey, 61)
        count, _ = await pipe.execute()
    except (redis.RedisError, OSError) as exc:
        _limiter_away_until = time.monotonic() + _LIMITER_PAUSE
        log.warning("rate limiter unavailable (%s); allowing requests for %ss", exc, _LIMITER_PAUSE)
        return
    if count > limit:
        retry_after = max(1, 60 - int(time.time() % 60))
        raise ApiError(429, "rate_limited", f"rate limit of {limit} requests per minute exceeded",
                       headers={"Retry-After": str(retry_after)})


def require(scope: str):
    # async, so a request whose key is cached costs no trip through the thread pool
    async def dependency(request: Request) -> Caller:
        raw = _raw_key(request)
        if not raw:
            raise ApiError(401, "unauthenticated", "missing API key: send 'Authorization: Bearer <key>'",
                           headers={"WWW-Authenticate": "Bearer"})
        hit = _cache.get(raw)
        if hit and time.monotonic() - hit[0] < _CACHE_TTL:
            caller = hit[1]
        else:
            caller = await run_in_threadpool(_lookup, raw)
        if caller is None:
            raise ApiError(401, "unauthenticated", "unknown or revoked API key",
                           headers={"WWW-Authenticate": "Bearer"})
        if not caller.can(scope):
            raise ApiError(403, "forbidden", f"this API key lacks the {scope!r} scope")
        await rate_limit(request, caller)
        return caller

    dependency.required_scope = scope     # read by intake.openapi for the operation's security
    return Depends(dependency)
