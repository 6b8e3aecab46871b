"""Intake's GET /metrics: jobs by kind and state, queue depths, outbox pending, from the real
database and broker."""
from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families

from celeryconfig import CONTROL_QUEUE, FAMILY_QUEUES
from tests.support.jobs import run_job
from tests.support.stack import wait_for


def _samples(base: str) -> dict[str, list]:
    r = httpx.get(f"{base}/metrics", timeout=10)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain"), r.headers
    out: dict[str, list] = {}
    for family in text_string_to_metric_families(r.text):
        for s in family.samples:
            out.setdefault(s.name, []).append(s)
    return out


def _jobs(samples: dict, kind: str, state: str) -> float:
    return sum(s.value for s in samples.get("coursework_jobs", [])
               if s.labels == {"kind": kind, "state": state})


def test_metrics_count_jobs_by_kind_and_state_and_show_every_queue(api, intake):
    before = _jobs(_samples(intake), "ping", "succeeded")
    # Given a ping job that ran through the whole lifecycle
    job = run_job(api, "ping", {"echo": "metrics"})
    assert job["state"] == "succeeded", job
    # When Prometheus scrapes intake
    samples = _samples(intake)
    # Then the succeeded counter for ping has moved, by at least this job
    assert _jobs(samples, "ping", "succeeded") >= before + 1
    # And every broker queue has a depth gauge, and the outbox gauge is there and not negative
    depths = {s.labels["queue"]: s.value for s in samples["coursework_queue_depth"]}
    assert set(depths) == {*FAMILY_QUEUES, CONTROL_QUEUE}
    assert all(v >= 0 for v in depths.values())
    assert samples["coursework_outbox_pending"][0].value >= 0


def test_queue_depth_and_job_gauges_follow_the_broker_and_database(idle_stack):
    base = idle_stack.intake_url
    # Given an isolated intake with no worker behind it
    with idle_stack.client(idle_stack.key) as client:
        # When three pings are accepted
        for i in range(3):
            assert client.post("/v1/jobs", json={"kind": "ping", "payload": {"echo": str(i)}}).status_code == 202
    # Then they are published (outbox rows are marked in a batch a moment after the send),
    # wait in the maintenance queue and count as queued
    wait_for(lambda: _samples(base)["coursework_outbox_pending"][0].value == 0, timeout=5,
             message="outbox rows marked published")
    s = _samples(base)
    depths = {x.labels["queue"]: x.value for x in s["coursework_queue_depth"]}
    assert depths["maintenance"] == 3 and depths["video"] == 0, depths
    assert _jobs(s, "ping", "queued") == 3
    # When a worker starts
    idle_stack.start_worker(queues="maintenance", concurrency=1, name="late")
    # Then the queue drains and the three jobs count as succeeded
    wait_for(lambda: _jobs(_samples(base), "ping", "succeeded") == 3, timeout=60, interval=0.3,
             message="three succeeded pings in /metrics")
    s = _samples(base)
    assert {x.labels["queue"]: x.value for x in s["coursework_queue_depth"]}["maintenance"] == 0
    assert _jobs(s, "ping", "queued") == 0
