"""Isolated stacks for the operations tests that read the broker's state (key counts, queue
depths): each has its own database and redis-server, so nothing else in the session touches
them. The intake's rate limiter is off there (it writes expiring keys)."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import pytest

from tests.support.stack import Database, Stack, private_redis


@contextmanager
def isolated_stack(s3_endpoint: str, worker: bool = True) -> Iterator[Stack]:
    db = Database().create()
    redis_server = private_redis()
    st = Stack(db, redis_server.url, s3_endpoint, extra_env={"COURSEWORK_RATE_LIMIT_PER_MINUTE": "0"})
    try:
        if worker:
            st.start_worker(concurrency=2, name="quiet")
        st.start_intake()
        st.key = st.create_key("enqueue,read,operate", name="ops")
        yield st
    finally:
        st.stop()
        redis_server.stop()
        db.drop()


@pytest.fixture(scope="module")
def quiet_stack(s3_server):
    """An isolated stack with one worker on all queues and one intake."""
    with isolated_stack(s3_server.endpoint) as st:
        yield st


@pytest.fixture(scope="module")
def idle_stack(s3_server):
    """An isolated stack with an intake and no worker yet (``start_worker`` when wanted)."""
    with isolated_stack(s3_server.endpoint, worker=False) as st:
        yield st
