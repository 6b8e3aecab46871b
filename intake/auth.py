"""API-key authentication, scopes, and rate limits kept in Redis.

Scopes (``domain.jobs.keys.SCOPES``, shown in the OpenAPI security scheme): ``read`` reads jobs and
family data; ``enqueue`` writes to every family, ``enqueue:<family>`` to one family only (a key
for the video CMS cannot write gradebooks); ``operate`` sees every caller's jobs (system
reactions included), requeues, revokes, runs the ping drills and reads error tracebacks.

Strangers cost bounded memory and time: the key cache is an LRU with a TTL that remembers unknown
keys too (``key_cache_size`` entries at most), a token longer than any key is refused without a
lookup, and requests without a valid key are limited per client address.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

import redis
from cachetools import TTLCache
from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from celeryconfig import settings
from domain.db import session_factory
from domain.jobs import keys
from intake.errors import ApiError

log = logging.getLogger(__name__)
MAX_KEY_CHARS = 200          # issued keys are far shorter; longer bearer tokens are never looked up

@dataclass(frozen=True)
class Caller:
    key_id: str
    name: str
    scopes: frozenset[str]

    def can(self, scope: str) -> bool:
        if scope in self.scopes:
            return True
        return scope.startswith("enqueue:") and "enqueue" in self.scopes

    def can_write(self, family: str) -> bool:
        return self.can(f"enqueue:{family}")


class KeyCache:
    """Bounded, thread-safe: least recently used out beyond ``size``, every entry (miss or hit)
    forgotten after ``ttl`` seconds so a revoked key stops working within that time."""

    def __init__(self, size: int, ttl: float, timer=time.monotonic):
        self._cache: TTLCache = TTLCache(maxsize=max(1, size), ttl=ttl, timer=timer)
        self._lock = threading.Lock()

    def get(self, raw: str):
        """``(found, caller_or_None)``."""
        with self._lock:
            try:
                return True, self._cache[raw]
            except KeyError:
                return False, None

    def put(self, raw: str, caller: Caller | None) -> None:
        with self._lock:
            self._cache[raw] = caller

    def clear(self) -> None:
        with self._lock:
            self._cache.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._cache)


_cache = KeyCache(settings.key_cache_size, settings.key_cache_seconds)


def _raw_key(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip() or None
    return request.headers.get("x-api-key") or None


def _lookup(raw: str) -> Caller | None:
    """The key's caller from the database (None: unknown or revoked), cached."""
    with session_factory(settings.database_url)() as s:
        key = keys.lookup(s, raw)
        caller = Caller(key.id, key.name, frozenset(key.scopes)) if key else None
    _cache.put(raw, caller)
    return caller


def forget_cached_keys() -> None:
    _cache.clear()


_LIMITER_PAUSE = 2.0               # seconds the limiter stays open after Redis failed it
_limiter_away_until = 0.0


async def _window_count(request: Request, rkey: str) -> int | None:
    """INCR + EXPIRE of a one-minute window in one round trip, on the event loop. None (fail open)
    if Redis is down or slow (its client gives up within a quarter second, then the limiter does
    not ask Redis again for a couple of seconds), so intake still accepts jobs into the outbox, at
    its normal pace, while the broker is away."""
    global _limiter_away_until
    if time.monotonic() < _limiter_away_until:     # Redis failed a moment ago: do not wait on it again
        return None
    try:
        pipe = request.app.state.limiter_redis.pipeline()
        pipe.incr(rkey)
        pipe.expire(rkey, 61)
        count, _ = await pipe.execute()
        return count
    except (redis.RedisError, OSError) as exc:
        _limiter_away_until = time.monotonic() + _LIMITER_PAUSE
        log.warning("rate limiter unavailable (%s); allowing requests for %ss", exc, _LIMITER_PAUSE)
        return None


def _too_many(limit: int, what: str) -> ApiError:
    retry_after = max(1, 60 - int(time.time() % 60))
    return ApiError(429, "rate_limited", f"rate limit of {limit} {what} per minute exceeded",
                    headers={"Retry-After": str(retry_after)})


async def rate_limit(request: Request, caller: Caller) -> None:
    """Fixed one-minute window per key."""
    limit = settings.rate_limit_per_minute
    if limit <= 0:
        return
    count = await _window_count(request, f"cw:ratelimit:{caller.key_id}:{int(time.time() // 60)}")
    if count is not None and count > limit:
        raise _too_many(limit, "requests")


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def limit_address(request: Request, bucket: str, limit: int) -> None:
    """Fixed one-minute window per client address and bucket (``anonymous``, ``verify``...)."""
    if limit <= 0:
        return
    count = await _window_count(request, f"cw:ratelimit:{bucket}:{client_address(request)}:{int(time.time() // 60)}")
    if count is not None and count > limit:
        raise _too_many(limit, f"{bucket} requests")


def public(bucket: str = "anonymous", setting: str = "anonymous_rate_per_minute"):
    """Dependency of a route anyone may call (signed links, public checks): limited per address."""
    async def dependency(request: Request) -> None:
        await limit_address(request, bucket, getattr(settings, setting))

    return Depends(dependency)


def _unauthenticated(message: str) -> ApiError:
    return ApiError(401, "unauthenticated", message, headers={"WWW-Authenticate": "Bearer"})


async def authenticate(request: Request) -> Caller:
    raw = _raw_key(request)
    if not raw:
        await limit_address(request, "anonymous", settings.anonymous_rate_per_minute)
        raise _unauthenticated("missing API key: send 'Authorization: Bearer <key>'")
    if len(raw) > MAX_KEY_CHARS:
        await limit_address(request, "anonymous", settings.anonymous_rate_per_minute)
        raise _unauthenticated("unknown or revoked API key")
    found, caller = _cache.get(raw)
    if not found:
        caller = await run_in_threadpool(_lookup, raw)
    if caller is None:
        # every refused key counts against the address (a valid key never does, so a service
        # behind the same address as a stranger keeps working)
        await limit_address(request, "anonymous", settings.anonymous_rate_per_minute)
        raise _unauthenticated("unknown or revoked API key")
    return caller


def require(scope: str | None = None):
    """A valid key with ``scope`` (None: any valid key; the route checks what it needs)."""
    # async, so a request whose key is cached costs no trip through the thread pool
    async def dependency(request: Request) -> Caller:
        caller = await authenticate(request)
        if scope is not None and not caller.can(scope):
            raise ApiError(403, "forbidden", f"this API key lacks the {scope!r} scope")
        await rate_limit(request, caller)
        return caller

    # read by intake.openapi for the operation's security (no scope: the route checks a family's)
    dependency.required_scope = scope or "enqueue"
    return Depends(dependency)


def require_write(family: str):
    """A write to one family: the ``enqueue`` scope, or ``enqueue:<family>``."""
    return require(f"enqueue:{family}")
