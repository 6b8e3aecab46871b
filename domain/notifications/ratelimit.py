"""A send rate per provider shared by every worker: GCRA (a token bucket as one timestamp)
kept in Redis and updated by one Lua script, so concurrent workers never overshoot.

The Redis client is passed in (workers own the connection); nothing here imports redis.
"""
from __future__ import annotations

import time
from typing import Callable

# KEYS[1]: bucket; ARGV: emission interval (µs), burst tolerance (µs). Returns the wait in µs (0 = go).
_GCRA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local wait = tat - tolerance - now
if wait > 0 then return wait end
local new_tat = tat + interval
redis.call('SET', KEYS[1], string.format('%d', new_tat), 'PX', math.ceil((new_tat - now) / 1000) + 1000)
return 0
"""


class RateLimiter:
    """``wait_for_slot()`` blocks up to ``max_wait`` seconds for a send slot and returns the
    remaining wait (0.0 when the caller may send now; > 0 when it should retry later)."""

    def __init__(self, redis_client, name: str, per_second: float, *, burst: float | None = None,
                 max_wait: float = 2.0, sleep: Callable[[float], None] = time.sleep):
        self.key = f"cw:notify:rate:{name}"
        self.per_second = per_second
        self.interval_us = int(1_000_000 / per_second) if per_second > 0 else 0
        tokens = burst if burst is not None else max(1.0, per_second / 10)
        self.tolerance_us = int(self.interval_us * max(0.0, tokens - 1))
        self.max_wait, self.sleep = max_wait, sleep
        self._script = redis_client.register_script(_GCRA) if per_second > 0 else None

    def try_acquire(self) -> float:
        """Take a slot now (0.0) or say how many seconds until one frees up."""
        if self._script is None:
            return 0.0
        return int(self._script(keys=[self.key], args=[self.interval_us, self.tolerance_us])) / 1_000_000

    def wait_for_slot(self) -> float:
        waited = 0.0
        while True:
            wait = self.try_acquire()
            if wait <= 0:
                return 0.0
            if waited + wait > self.max_wait:
                return wait
            self.sleep(wait)
            waited += wait
