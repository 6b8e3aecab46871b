"""`coursework flower`: a real Flower process on the test broker, behind basic auth, whose API
sees the test worker and whose /metrics speaks Prometheus text."""
from __future__ import annotations

import secrets
import socket

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from cli.services import Child, coursework_argv, free_port, wait_http
from tests.support.jobs import run_job
from tests.support.stack import LOG_DIR, wait_for

USER = "operator"


@pytest.fixture(scope="module")
def flower(stack, worker):
    password = secrets.token_urlsafe(12)
    port = free_port()
    child = Child(coursework_argv("flower", "--port", str(port)),
                  stack.env(COURSEWORK_FLOWER_BASIC_AUTH=f"{USER}:{password}"),
                  LOG_DIR / f"flower-{port}.log").start()
    try:
        wait_http(f"http://127.0.0.1:{port}/healthcheck", timeout=60, child=child)
        yield f"http://127.0.0.1:{port}", (USER, password)
    finally:
        child.stop()


def _worker_names(base: str, auth) -> set[str]:
    r = httpx.get(f"{base}/api/workers", params={"refresh": "1"}, auth=auth, timeout=30)
    assert r.status_code == 200, r.text
    return set(r.json())


def test_flower_api_needs_basic_auth_and_lists_the_worker(flower):
    base, auth = flower
    # Given Flower started by `coursework flower` against the test broker
    # When an operator without credentials, then with wrong ones, asks for the workers
    assert httpx.get(f"{base}/api/workers", timeout=10).status_code == 401
    assert httpx.get(f"{base}/api/workers", auth=(USER, "wrong"), timeout=10).status_code == 401
    # Then with the configured credentials the live test worker is listed with its queues
    expected = f"shared@{socket.gethostname()}"
    names = wait_for(lambda: _worker_names(base, auth), timeout=30, interval=1, message="Flower to see a worker")
    assert expected in names, names
    info = httpx.get(f"{base}/api/workers", params={"workername": expected}, auth=auth, timeout=30).json()
    queues = {q["name"] for q in info[expected]["active_queues"]}
    assert {"maintenance", "video", "grading"} <= queues, queues


def _flower_metrics(base: str) -> dict:
    text = httpx.get(f"{base}/metrics", timeout=10).text
    return {f.name: f for f in text_string_to_metric_families(text)}


def _ping_succeeded_events(base: str) -> float:
    fam = _flower_metrics(base).get("flower_events")
    return sum(s.value for s in (fam.samples if fam else [])
               if s.name == "flower_events_total" and s.labels.get("task") == "tasks.ping.ping"
               and s.labels.get("type") == "task-succeeded")


def test_flower_metrics_are_prometheus_text_and_count_a_ping(flower, api):
    base, _ = flower
    # Given Flower watching the broker's events
    assert "flower_worker_online" in _flower_metrics(base)
    # When a ping job runs through intake and the worker
    job = run_job(api, "ping", {"echo": "flower"})
    assert job["state"] == "succeeded", job
    # Then Flower's Prometheus endpoint has counted a succeeded ping task event
    wait_for(lambda: _ping_succeeded_events(base) >= 1, timeout=30, interval=0.5,
             message="flower_events_total for a succeeded ping")
