"""Isolated stacks for the operations tests that read the broker's state (key counts, queue
depths): each has its own database and redis-server, so nothing else in the session touches
them. The intake's rate limiter is off there (it writes expiring keys)."""
from __future__ import annotations

import secrets
from contextlib import contextmanager
from typing import Iterator

import pytest

from cli.services import Child, coursework_argv, free_port, wait_http
from tests.support.stack import LOG_DIR, Database, Stack, private_redis

FLOWER_USER = "operator"


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


@pytest.fixture(scope="module")
def flower(stack, worker):
    password = secrets.token_urlsafe(12)
    port = free_port()
    child = Child(coursework_argv("flower", "--port", str(port)),
                  stack.env(COURSEWORK_FLOWER_BASIC_AUTH=f"{FLOWER_USER}:{password}"),
                  LOG_DIR / f"flower-{port}.log").start()
    try:
        wait_http(f"http://127.0.0.1:{port}/healthcheck", timeout=60, child=child)
        yield f"http://127.0.0.1:{port}", (FLOWER_USER, password)
    finally:
        child.stop()
