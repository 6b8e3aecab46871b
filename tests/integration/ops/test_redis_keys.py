"""Job state lives in PostgreSQL, not in Redis: after N jobs the Redis key count is back
where it started (no celery-task-meta-*, no leftover unacked entries, no per-job keys)."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
import redis
from sqlalchemy import func, select

from domain.db import session_factory
from domain.jobs.models import Job
from tests.support.stack import wait_for

PIDBOX = "_kombu.binding.celery.pidbox"


def _keys(r: redis.Redis) -> set[str]:
    return {k.decode() for k in r.scan_iter(count=1000)}


def _enqueue_pings(stack, n: int) -> None:
    with stack.client(stack.key) as api, ThreadPoolExecutor(8) as pool:
        def post(i: int) -> int:
            return api.post("/v1/jobs", json={"kind": "ping", "payload": {"echo": f"k{i}"}}).status_code

        codes = list(pool.map(post, range(n)))
    assert codes == [202] * n, {c: codes.count(c) for c in set(codes)}


def _count(stack, state: str | None = None) -> int:
    stmt = select(func.count()).select_from(Job).where(Job.kind == "ping")
    if state:
        stmt = stmt.where(Job.state == state)
    with session_factory(stack.db_url)() as s:
        return s.scalar(stmt)


def _at_rest(r: redis.Redis) -> bool:
    """No message waiting or in flight, and the worker's remote-control binding (its pidbox, bound
    as its consumer starts) in place: the last of the keys a worker keeps (no gossip or mingle
    with ``--fast-start``, so nothing else comes later)."""
    keys = _keys(r)
    return PIDBOX in keys and not keys & {"maintenance", "unacked", "unacked_index"}


def _settled(r: redis.Redis, baseline: set[str]) -> bool:
    """Queues drained and unacked bookkeeping gone (kombu deletes empty lists/hashes)."""
    return _keys(r) == baseline


@pytest.mark.parametrize("n", [300, pytest.param(10_000, marks=[pytest.mark.slow, pytest.mark.timeout(3600)])])
def test_redis_key_count_is_back_to_start_after_n_jobs(quiet_stack, n):
    r = redis.Redis.from_url(quiet_stack.redis_url)
    # Given a started worker and intake that have run one job (so the broker's constant keys,
    # the exchange bindings and the pidbox, exist), and the Redis keys they hold at rest
    _enqueue_pings(quiet_stack, 1)
    wait_for(lambda: _count(quiet_stack, "succeeded") == _count(quiet_stack), timeout=60, message="warm-up ping")
    wait_for(lambda: _at_rest(r), timeout=60, interval=0.05, message="the broker's keys to be at rest")
    before_jobs = _count(quiet_stack)
    baseline = _keys(r)
    before = r.dbsize()
    assert before == len(baseline)

    # When N ping jobs go through the whole lifecycle (HTTP intake → outbox → broker → worker → DB)
    _enqueue_pings(quiet_stack, n)
    wait_for(lambda: _count(quiet_stack, "succeeded") >= before_jobs + n, timeout=60 + n * 0.2,
             interval=0.5, message=f"{n} ping jobs to succeed")

    # Then every job's state is in PostgreSQL, and Redis holds exactly the keys it held before
    assert _count(quiet_stack) == before_jobs + n
    try:
        wait_for(lambda: _settled(r, baseline), timeout=15, interval=0.2, message="Redis keys to settle")
    except AssertionError:
        extra = sorted(_keys(r) - baseline)[:20]
        missing = sorted(baseline - _keys(r))[:20]
        raise AssertionError(f"Redis keys changed after {n} jobs: +{extra} -{missing}") from None
    assert r.dbsize() == before
    assert not any(k.startswith("celery-task-meta-") for k in _keys(r))
