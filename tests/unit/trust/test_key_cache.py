"""The API-key cache stays bounded when strangers send made-up keys: memory is measured after
100,000 distinct bogus keys through the real authentication path (database lookup faked)."""
from __future__ import annotations

import asyncio
import gc
import secrets
import tracemalloc

import pytest
from starlette.requests import Request

from intake import auth

BOUND = 10_000


def _request(raw: str) -> Request:
    return Request({"type": "http", "method": "GET", "path": "/v1/jobs", "query_string": b"",
                    "headers": [(b"authorization", f"Bearer {raw}".encode())], "client": ("203.0.113.9", 1234)})


@pytest.fixture
def bounded(monkeypatch):
    cache = auth.KeyCache(BOUND, ttl=600)
    monkeypatch.setattr(auth, "_cache", cache)

    def fake_lookup(raw):          # every key unknown, remembered as a miss, as _lookup does
        cache.put(raw, None)
        return None

    async def no_limit(*_a, **_kw):
        return None

    monkeypatch.setattr(auth, "_lookup", fake_lookup)
    monkeypatch.setattr(auth, "limit_address", no_limit)
    monkeypatch.setattr(auth, "run_in_threadpool", lambda fn, *a: asyncio.sleep(0, fn(*a)))
    return cache


async def _send(n: int) -> None:
    refused = 0
    for _ in range(n):
        try:
            await auth.authenticate(_request("cw_" + secrets.token_urlsafe(32)))
        except auth.ApiError:
            refused += 1
    assert refused == n


def test_memory_after_100k_bogus_keys_stays_at_the_bound(bounded):
    # the request path remembers misses in the bounded cache ...
    asyncio.run(_send(2_000))
    assert len(bounded) == 2_000
    # ... so 100,000 distinct bogus keys end as 100,000 misses put into it; memory measured
    # (key strings included: made inside the trace, freed on eviction), not time
    bounded.clear()
    gc.collect()
    marks = {}
    tracemalloc.start()
    try:
        base, _ = tracemalloc.get_traced_memory()
        for i in range(1, 100_001):
            bounded.put("cw_" + secrets.token_urlsafe(32), None)
            if i in (BOUND, 50_000, 100_000):
                gc.collect()
                marks[i] = tracemalloc.get_traced_memory()[0] - base
    finally:
        tracemalloc.stop()
    assert len(bounded) == BOUND
    print("\nkey cache: " + ", ".join(f"{v / 1e6:.2f} MB after {k:,} bogus keys" for k, v in marks.items())
          + f" (bound {BOUND:,} entries)")
    assert marks[100_000] <= marks[50_000] * 1.05      # flat: the last 50,000 keys added nothing
    assert marks[100_000] < 6_000_000


def test_misses_expire_and_the_least_recently_used_go_first():
    now = [0.0]
    cache = auth.KeyCache(3, ttl=10, timer=lambda: now[0])
    for k in "abc":
        cache.put(k, None)
    assert cache.get("a") == (True, None)       # a is now the most recently used
    cache.put("d", None)                         # evicts b, the least recently used
    assert cache.get("b") == (False, None) and cache.get("a") == (True, None)
    now[0] = 11
    assert cache.get("a") == (False, None)


def test_tokens_longer_than_any_key_are_refused_without_a_lookup(monkeypatch):
    def boom(_raw):
        raise AssertionError("looked up")

    async def no_limit(*_a, **_kw):
        return None

    monkeypatch.setattr(auth, "_lookup", boom)
    monkeypatch.setattr(auth, "limit_address", no_limit)
    with pytest.raises(auth.ApiError) as exc:
        asyncio.run(auth.authenticate(_request("x" * (auth.MAX_KEY_CHARS + 1))))
    assert exc.value.status == 401
