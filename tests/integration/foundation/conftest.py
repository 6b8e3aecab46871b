"""A stack of its own for the foundation tests that kill workers, stop Redis or cut the
database (the session's shared services are never touched)."""
from __future__ import annotations

import pytest
from tests.support.stack import Database, Stack, private_redis


@pytest.fixture
def own_stack(s3_server):
    db = Database().create()
    redis_server = private_redis()
    st = Stack(db, redis_server.url, s3_server.endpoint)
    st.redis = redis_server
    yield st
    st.stop()
    for server in {redis_server, st.redis}:     # a test may have started a new one on the same port
        server.stop()
    db.drop()

