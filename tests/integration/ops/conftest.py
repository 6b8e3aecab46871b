"""An isolated stack for the operations tests that count Redis keys: its own database, its
own redis-server, one worker and one intake, so nothing else in the session touches them."""
from __future__ import annotations

import pytest

from tests.support.stack import Database, Stack, private_redis


@pytest.fixture(scope="module")
def quiet_stack(s3_server):
    """A stack nobody else uses; the intake's rate limiter is off (it writes expiring keys)."""
    db = Database().create()
    redis_server = private_redis()
    st = Stack(db, redis_server.url, s3_server.endpoint, extra_env={"COURSEWORK_RATE_LIMIT_PER_MINUTE": "0"})
    try:
        st.start_worker(concurrency=2, name="quiet")
        st.start_intake()
        st.key = st.create_key("enqueue,read,operate", name="ops")
        yield st
    finally:
        st.stop()
        redis_server.stop()
        db.drop()
