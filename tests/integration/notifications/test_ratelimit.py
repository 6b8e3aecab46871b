"""The shared provider rate limit against a real Redis: two workers' limiters share one bucket."""
from __future__ import annotations

import time

import redis

from domain.notifications.ratelimit import RateLimiter


# Rates here are slow enough (one slot every 100 s or more) that the time the test itself takes
# cannot free a slot: what a limiter answers depends on the bucket alone.


def test_two_limiters_share_one_bucket(redis_server):
    # Given two workers' limiters on one provider: one slot per 1000 s, no burst
    a = RateLimiter(redis.Redis.from_url(redis_server.url), "shared-test", per_second=0.001, burst=1)
    b = RateLimiter(redis.Redis.from_url(redis_server.url), "shared-test", per_second=0.001, burst=1)
    # When they ask for slots in turn
    answers = [(a if i % 2 else b).try_acquire() for i in range(40)]
    # Then only the first ask, of either, got one: each saw the slot the other took
    assert answers[0] == 0 and all(wait > 0 for wait in answers[1:]), answers
    assert all(wait <= 1000 for wait in answers)


def test_wait_for_slot_sleeps_briefly_or_hands_back_a_retry_after(redis_server):
    slept = []
    client = redis.Redis.from_url(redis_server.url)
    limiter = RateLimiter(client, "slow-provider", per_second=0.01, burst=1, max_wait=0.5, sleep=slept.append)
    assert limiter.wait_for_slot() == 0.0          # first slot is free
    retry_after = limiter.wait_for_slot()          # the next is ~100 s away: more than max_wait
    assert limiter.max_wait < retry_after <= 100 and slept == []
    fast_slept = []

    def sleep(seconds):
        fast_slept.append(seconds)
        time.sleep(seconds)

    fast = RateLimiter(client, "fast-provider", per_second=5, burst=1, max_wait=1.0, sleep=sleep)
    assert fast.wait_for_slot() == 0.0 and fast.wait_for_slot() == 0.0
    assert fast_slept and all(0 < s <= 0.2 for s in fast_slept)   # the second one slept, at most a slot
    assert RateLimiter(client, "unlimited", per_second=0).try_acquire() == 0.0


def test_slots_are_taken_in_batches_never_beyond_the_rate(redis_server):
    client = redis.Redis.from_url(redis_server.url)
    limiter = RateLimiter(client, "batched", per_second=0.01, burst=5, max_wait=0.0)
    assert limiter.take(20) == (5, 0.0)             # at most the burst in one round trip
    taken, retry_after = limiter.take(3)            # the bucket is empty: 3 more need ~300 s
    assert taken == 0 and 200 < retry_after <= 300 + 1e-6
    assert limiter.try_acquire(1) > 0               # and one alone is not free either
