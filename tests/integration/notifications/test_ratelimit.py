"""The shared provider rate limit against a real Redis: two workers' limiters share one bucket."""
from __future__ import annotations

import math
import time

import redis

from domain.notifications.ratelimit import RateLimiter


def test_two_limiters_share_one_bucket(redis_server):
    a = RateLimiter(redis.Redis.from_url(redis_server.url), "shared-test", per_second=10, burst=1)
    b = RateLimiter(redis.Redis.from_url(redis_server.url), "shared-test", per_second=10, burst=1)
    started = time.monotonic()
    allowed = sum(1 for i in range(40) if (a if i % 2 else b).try_acquire() == 0)
    elapsed = time.monotonic() - started
    assert 1 <= allowed <= 1 + math.ceil(elapsed * 10)
    wait = a.try_acquire()
    assert 0 < wait <= 0.1 + 1e-6


def test_wait_for_slot_sleeps_briefly_or_hands_back_a_retry_after(redis_server):
    slept = []
    client = redis.Redis.from_url(redis_server.url)
    limiter = RateLimiter(client, "slow-provider", per_second=0.5, burst=1, max_wait=0.5, sleep=slept.append)
    assert limiter.wait_for_slot() == 0.0          # first slot is free
    retry_after = limiter.wait_for_slot()          # next one is ~2 s away: more than max_wait
    assert 1.0 < retry_after <= 2.0 and slept == []
    fast = RateLimiter(client, "fast-provider", per_second=50, burst=1, max_wait=1.0, sleep=time.sleep)
    assert fast.wait_for_slot() == 0.0 and fast.wait_for_slot() == 0.0   # second one waited ~20 ms
    assert RateLimiter(client, "unlimited", per_second=0).try_acquire() == 0.0


def test_slots_are_taken_in_batches_never_beyond_the_rate(redis_server):
    client = redis.Redis.from_url(redis_server.url)
    limiter = RateLimiter(client, "batched", per_second=10, burst=5, max_wait=0.0)
    assert limiter.take(20) == (5, 0.0)             # at most the burst in one round trip
    taken, retry_after = limiter.take(3)            # the bucket is empty: 3 more need ~0.3 s
    assert taken == 0 and 0.2 < retry_after <= 0.3 + 1e-6
    assert limiter.try_acquire(1) > 0               # and one alone is not free either
