"""Operator controls on the real stack: pause and resume a queue with two workers (and one
restarted while paused), queue health."""
from __future__ import annotations

import secrets

import pytest
from tests.integration.ops.conftest import isolated_stack
from tests.support.stack import consumed_queues, wait_for


@pytest.fixture(scope="module")
def two_workers(s3_server):
    with isolated_stack(s3_server.endpoint, worker=False) as st:
        # names unique per run: a worker's log file is appended to, and "ready." is looked for in it
        st.tag = secrets.token_hex(3)
        st.workers = {name: st.start_worker(queues="maintenance,grading", concurrency=1, name=f"{name}-{st.tag}")
                      for name in ("alpha", "beta")}
        yield st


def _wait_consumed(broker_url: str, expected: dict[str, set[str]]) -> None:
    wait_for(lambda: consumed_queues(broker_url) == expected, timeout=30, interval=0.5,
             message=f"workers consuming {expected}")


def _health(client) -> dict[str, dict]:
    r = client.get("/v1/ops/queues")
    assert r.status_code == 200, r.text
    return {q["queue"]: q for q in r.json()["queues"]}


def test_a_paused_queue_is_left_by_every_worker_even_one_started_later_and_resumed_by_all(two_workers):
    st = two_workers
    with st.client(st.key) as client:
        _wait_consumed(st.redis_url, {"alpha": {"maintenance", "grading"}, "beta": {"maintenance", "grading"}})
        # Given an operator pauses the maintenance queue
        r = client.post("/v1/ops/queues/maintenance/pause")
        assert r.status_code == 200, r.text
        assert r.json()["paused"] is True, r.json()
        # Then neither worker consumes it, and both still consume grading
        _wait_consumed(st.redis_url, {"alpha": {"grading"}, "beta": {"grading"}})
        # When jobs arrive for it, intake still accepts them and they wait in the broker
        ids = [client.post("/v1/jobs", json={"kind": "ping", "payload": {"echo": str(i)}}).json()["job"]["id"]
               for i in range(3)]
        waiting = wait_for(lambda: (h := _health(client)["maintenance"])["broker_depth"] == 3 and h,
                           timeout=10, message="three messages in the paused queue")
        assert waiting["paused"] is True and waiting["queued"] == 3 and waiting["running"] == 0, waiting
        assert waiting["oldest_waiting_seconds"] is not None and waiting["oldest_waiting_seconds"] >= 0
        # When one worker is restarted while the queue is paused
        st.workers["beta"].stop()
        st.workers["gamma"] = st.start_worker(queues="maintenance,grading", concurrency=1, name=f"gamma-{st.tag}")
        # Then the new worker leaves the paused queue out too, and nothing has run
        _wait_consumed(st.redis_url, {"alpha": {"grading"}, "gamma": {"grading"}})
        assert all(client.get(f"/v1/jobs/{i}").json()["job"]["state"] == "queued" for i in ids)
        # When the operator resumes it
        r = client.post("/v1/ops/queues/maintenance/resume")
        assert r.status_code == 200 and r.json()["paused"] is False, r.text
        # Then both live workers consume it again and the waiting jobs run
        _wait_consumed(st.redis_url, {"alpha": {"maintenance", "grading"}, "gamma": {"maintenance", "grading"}})
        wait_for(lambda: all(client.get(f"/v1/jobs/{i}").json()["job"]["state"] == "succeeded" for i in ids),
                 timeout=60, interval=0.3, message="the waiting pings to succeed")
        health = _health(client)["maintenance"]
        assert health["paused"] is False and health["queued"] == 0 and health["succeeded_per_min_5m"] >= 0.6


def test_pausing_an_unknown_queue_is_a_404_and_needs_the_operate_scope(two_workers):
    st = two_workers
    with st.client(st.key) as client:
        r = client.post("/v1/ops/queues/nope/pause")
        assert r.status_code == 404 and "unknown queue" in r.json()["error"]["message"]
    reader = st.create_key("read", name="reader")
    with st.client(reader) as client:
        assert client.post("/v1/ops/queues/video/pause").status_code == 403
        assert client.get("/v1/ops/queues").status_code == 403
