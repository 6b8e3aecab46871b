"""Prometheus metrics on the real stack: intake's HTTP metrics by route template (/metrics),
the deployment-wide gauges (/metrics/platform), and a worker's job histograms and counters
(its --metrics-port, prometheus_client multiprocess mode across prefork children)."""
from __future__ import annotations

import re

import httpx
from prometheus_client.parser import text_string_to_metric_families

from domain.registry import CONTROL_QUEUE, FAMILY_QUEUES
from cli.services import free_port
from tests.support.jobs import run_job
from tests.support.stack import ROOT, wait_for


def _samples(url: str) -> dict[str, list]:
    r = httpx.get(url, timeout=10)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain"), r.headers
    out: dict[str, list] = {}
    for family in text_string_to_metric_families(r.text):
        for s in family.samples:
            out.setdefault(s.name, []).append(s)
    return out


def _value(samples: dict, name: str, **labels) -> float:
    return sum(s.value for s in samples.get(name, []) if all(s.labels.get(k) == v for k, v in labels.items()))


def test_http_metrics_count_requests_by_route_template_method_and_status(api, intake):
    # Given requests for two different jobs, one unknown path and one without a key
    job = run_job(api, "ping", {"echo": "metrics"})
    before = _samples(f"{intake}/metrics")
    for job_id in (job["id"], "no-such-job"):
        api.get(f"/v1/jobs/{job_id}")
    assert httpx.get(f"{intake}/no/such/path").status_code == 404
    assert httpx.get(f"{intake}/v1/jobs/{job['id']}").status_code == 401
    after = _samples(f"{intake}/metrics")
    # Then they are counted under the route template, never the raw path
    name = "coursework_http_requests_total"
    template = "/v1/jobs/{job_id}"
    assert _value(after, name, handler=template, status="200") >= _value(before, name, handler=template, status="200") + 1
    assert _value(after, name, handler=template, status="404") >= _value(before, name, handler=template, status="404") + 1
    assert _value(after, name, handler=template, status="401") >= 1
    assert _value(after, name, handler="none", status="404") >= 1
    assert not any(job["id"] in str(s.labels) for samples in after.values() for s in samples)
    # And latency is a histogram by route template
    assert _value(after, "coursework_http_request_duration_seconds_count", handler=template) >= 3
    # And the platform's gauges are not on the per-process endpoint
    assert "coursework_queue_depth" not in after


def test_platform_gauges_and_a_workers_job_metrics_follow_the_database_and_broker(idle_stack):
    st, base = idle_stack, idle_stack.intake_url
    platform = f"{base}/metrics/platform"
    # Given an isolated intake with no worker behind it, and three pings accepted
    with st.client(st.key) as client:
        for i in range(3):
            assert client.post("/v1/jobs", json={"kind": "ping", "payload": {"echo": str(i)}}).status_code == 202
    # Then (within the gauges' cache time) they are published, wait in the broker and count as queued
    # (outbox rows are marked published in batches a moment after the send)
    s = wait_for(lambda: (x := _samples(platform)) and _value(x, "coursework_jobs", kind="ping", state="queued") == 3
                 and _value(x, "coursework_queue_depth", queue="maintenance") == 3
                 and _value(x, "coursework_outbox_pending") == 0 and x,
                 timeout=60, interval=0.5, message="three queued pings in /metrics/platform")
    assert {x.labels["queue"] for x in s["coursework_queue_depth"]} == {*FAMILY_QUEUES, CONTROL_QUEUE}
    assert _value(s, "coursework_queue_consumers", queue="maintenance") == 0
    assert _value(s, "coursework_outbox_pending") == 0
    assert _value(s, "coursework_queue_oldest_waiting_seconds", queue="maintenance") >= 0
    assert not [x for x in s["coursework_jobs"] if x.labels["state"] == "succeeded"]    # no history scan
    # When a worker serving metrics starts, and more jobs end in every way
    port = free_port()
    st.start_worker(queues="maintenance", concurrency=2, name=f"metered-{port}", COURSEWORK_WORKER_METRICS_PORT=str(port))
    with st.client(st.key) as client:
        for payload in ({"fail_permanent": True}, {"fail_transient_times": 1}, {"fail_transient_times": 10}):
            client.post("/v1/jobs", json={"kind": "ping", "payload": payload})
    worker = f"http://127.0.0.1:{port}/metrics"
    # Then the worker counts six endings' worth: 4 succeeded, 1 failure, 1 dead letter, 4 retries
    w = wait_for(lambda: (x := _samples(worker)) and _value(x, "coursework_job_dead_letters_total", kind="ping") == 1
                 and _value(x, "coursework_jobs_finished_total", kind="ping", outcome="succeeded") == 4 and x,
                 timeout=90, interval=0.5, message="the worker's counters for six pings")
    assert _value(w, "coursework_job_failures_total", kind="ping") == 1
    assert _value(w, "coursework_job_retries_total", kind="ping") == 1 + 3
    assert _value(w, "coursework_job_wait_seconds_count", kind="ping") == 6       # first attempts only
    assert _value(w, "coursework_job_duration_seconds_count", kind="ping", outcome="succeeded") == 4
    # And the platform gauges see the queue drained, one consumer and the dead letter
    s = wait_for(lambda: (x := _samples(platform)) and _value(x, "coursework_jobs", kind="ping", state="queued") == 0
                 and _value(x, "coursework_queue_consumers", queue="maintenance") == 1 and x,
                 timeout=60, interval=0.5, message="the platform gauges after the worker")
    assert _value(s, "coursework_jobs", kind="ping", state="dead_lettered") == 1
    assert _value(s, "coursework_queue_depth", queue="maintenance") == 0
    # And every metric the shipped alert rules read is one these endpoints really export
    exported = set(s) | set(w) | set(_samples(f"{base}/metrics"))
    used = set(re.findall(r"\bcoursework_[a-z_]+", (ROOT / "monitoring" / "alerts.yml").read_text()))
    assert used and used <= exported, used - exported
