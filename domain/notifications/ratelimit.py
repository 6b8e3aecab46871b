"""A send rate per provider shared by every worker: GCRA (a token bucket as one timestamp)
kept in Redis and updated by one Lua script, so concurrent workers never overshoot.

A sender takes its tokens in batches (up to the burst size, one Redis round trip per batch
instead of per message); tokens it took and did not use are simply lost, which can only
make the real rate lower, never higher. The Redis client is passed in (workers own the
connection); nothing here imports redis.
"""
from __future__ import annotations

import time
from typing import Callable

# KEYS[1]: bucket, KEYS[2]: the channel's pause; ARGV: emission interval (µs), burst tolerance
# (µs), tokens wanted. Returns the wait in µs before that many tokens are free (0 = taken, go).
_GCRA = """
local paused = redis.call('PTTL', KEYS[2])
if paused > 0 then return paused * 1000 end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local n = tonumber(ARGV[3] or '1')
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local wait = tat + (n - 1) * interval - tolerance - now
if wait > 0 then return wait end
local new_tat = tat + n * interval
redis.call('SET', KEYS[1], string.format('%d', new_tat), 'PX', math.ceil((new_tat - now) / 1000) + 1000)
return 0
"""


PAUSED_PREFIX = "cw:notify:paused:"     # + provider name: a channel's pause, expiring when it ends


def paused_channels(redis_client) -> dict[str, float]:
    """Seconds left of each paused email channel, by provider (for the platform's metrics)."""
    out = {}
    for key in redis_client.scan_iter(f"{PAUSED_PREFIX}*", count=100):
        ms = redis_client.pttl(key)
        if ms > 0:
            name = key.decode() if isinstance(key, bytes) else key
            out[name.removeprefix(PAUSED_PREFIX)] = ms / 1000
    return out


class RateLimiter:
    """``take(n)`` waits up to ``max_wait`` seconds for ``n`` send slots (at most the burst) and
    returns ``(slots taken, 0.0)``, or ``(0, retry_after)`` when the wait would be longer;
    ``wait_for_slot()`` is the one-slot form (0.0 = go, > 0 = retry later)."""

    def __init__(self, redis_client, name: str, per_second: float, *, burst: float | None = None,
                 max_wait: float = 2.0, sleep: Callable[[float], None] = time.sleep):
        self.key = f"cw:notify:rate:{name}"
        self.paused_key = f"{PAUSED_PREFIX}{name}"
        self.redis = redis_client
        self.per_second = per_second
        self.interval_us = int(1_000_000 / per_second) if per_second > 0 else 0
        tokens = burst if burst is not None else max(1.0, per_second / 10)
        self.burst = max(1, int(tokens))
        self.tolerance_us = int(self.interval_us * max(0.0, tokens - 1))
        self.max_wait, self.sleep = max_wait, sleep
        self._script = redis_client.register_script(_GCRA) if per_second > 0 else None

    @property
    def unlimited(self) -> bool:
        return self._script is None

    def try_acquire(self, n: int = 1) -> float:
        """Take ``n`` slots now (0.0) or say how many seconds until they are free (or until the
        channel's pause ends)."""
        if self._script is None:
            paused_ms = self.redis.pttl(self.paused_key)
            return paused_ms / 1000 if paused_ms > 0 else 0.0
        return int(self._script(keys=[self.key, self.paused_key],
                                args=[self.interval_us, self.tolerance_us, n])) / 1_000_000

    def pause(self, seconds: float) -> None:
        """No sends on this channel, by any worker, for ``seconds`` (the provider refused the
        account or is down); a longer pause already set is kept."""
        ms = max(1, int(seconds * 1000))
        if self.redis.pttl(self.paused_key) < ms:
            self.redis.set(self.paused_key, "1", px=ms)

    def paused_for(self) -> float:
        """Seconds left of the channel's pause (0.0: not paused)."""
        ms = self.redis.pttl(self.paused_key)
        return ms / 1000 if ms > 0 else 0.0

    def take(self, want: int) -> tuple[int, float]:
        """Up to ``want`` slots (at most the burst), waiting up to ``max_wait``: ``(taken, 0.0)``,
        or ``(0, retry_after)`` when the wait would be longer."""
        n = max(1, min(want, self.burst))
        waited = 0.0
        while True:
            wait = self.try_acquire(n)
            if wait <= 0:
                return n, 0.0
            if waited + wait > self.max_wait:
                return 0, wait
            self.sleep(wait)
            waited += wait

    def wait_for_slot(self) -> float:
        return self.take(1)[1]
