"""`coursework flower`: a real Flower process on the test broker, behind basic auth, whose API
sees the test worker and whose /metrics speaks Prometheus text."""
from __future__ import annotations

import socket

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.ops.conftest import FLOWER_USER as USER
from tests.support.jobs import enqueue, run_job, wait_job
from tests.support.stack import wait_for


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


# --- Flower tells the truth: a task ends as its job did ----------------------------------------

def _flower_task(base: str, auth, job_id: str) -> dict | None:
    """The one task Flower knows for this job (found by the job id in its arguments)."""
    r = httpx.get(f"{base}/api/tasks", params={"search": job_id}, auth=auth, timeout=10)
    assert r.status_code == 200, r.text
    found = [dict(t, uuid=uuid) for uuid, t in r.json().items() if job_id in (t.get("args") or "")]
    assert len(found) <= 1, found
    return found[0] if found else None


def _flower_state(base: str, auth, job_id: str, wanted: set[str], timeout: float = 30) -> dict:
    def seen():
        task = _flower_task(base, auth, job_id)
        return task if task and task["state"] in wanted else None
    return wait_for(seen, timeout=timeout, interval=0.3, message=f"Flower to show job {job_id} as {wanted}")


def test_a_failed_job_is_a_failure_in_flower_with_its_error_and_labelled_arguments(flower, api):
    base, auth = flower
    # Given a job that fails permanently
    job = run_job(api, "ping", {"fail_permanent": True})
    assert job["state"] == "failed" and job["error"]["code"] == "ping_failed", job
    # Then Flower's own API shows its task as FAILURE with the job's error as the exception
    task = _flower_state(base, auth, job["id"], {"FAILURE", "SUCCESS"})
    assert task["state"] == "FAILURE", task
    assert "JobFailed" in task["exception"] and "ping_failed: ping asked to fail permanently" in task["exception"]
    assert "PermanentError" in (task.get("traceback") or ""), task.get("traceback")
    # And the task's arguments name the job and its kind
    assert task["args"] == f"job={job['id']} kind=ping", task["args"]


def test_a_dead_lettered_job_retries_then_is_a_failure_in_flower(flower, api):
    base, auth = flower
    # Given a job whose every attempt fails for a transient reason (4 attempts)
    job = enqueue(api, "ping", {"fail_transient_times": 10})
    # Then while it retries, Flower shows RETRY
    _flower_state(base, auth, job["id"], {"RETRY"})
    # And when it is dead-lettered, its task ends as FAILURE after the state is committed
    assert wait_job(api, job["id"], timeout=60)["state"] == "dead_lettered"
    task = _flower_state(base, auth, job["id"], {"FAILURE", "SUCCESS"})
    assert task["state"] == "FAILURE" and "JobDeadLettered" in task["exception"], task
    assert "transient_error: ping transient failure 4/10" in task["exception"], task


def test_progress_shows_in_flower_and_a_cancelled_job_is_revoked(flower, api):
    base, auth = flower
    # Given a long job that reports its progress
    job = enqueue(api, "ping", {"sleep": 60})
    # Then Flower shows the custom state PROGRESS with its percent and message
    task = _flower_state(base, auth, job["id"], {"PROGRESS"})
    assert "% slept" in task["result"], task
    # When the job is cancelled through the API
    assert api.post(f"/v1/jobs/{job['id']}/cancel").status_code == 202
    assert wait_job(api, job["id"], timeout=30)["state"] == "cancelled"
    # Then its task ends REVOKED (not SUCCESS, and not stuck at PROGRESS)
    assert _flower_state(base, auth, job["id"], {"REVOKED", "SUCCESS", "FAILURE"})["state"] == "REVOKED"


def test_terminate_from_flower_cancels_the_job_and_it_is_never_run_again(flower, api):
    base, auth = flower
    # Given a long job running in a worker process
    job = enqueue(api, "ping", {"sleep": 120})
    wait_job(api, job["id"], states={"running"})
    task = _flower_state(base, auth, job["id"], {"STARTED", "PROGRESS"})
    # When an operator presses Terminate in Flower (its API: revoke with terminate)
    r = httpx.post(f"{base}/api/task/revoke/{task['uuid']}", params={"terminate": "true"}, auth=auth, timeout=10)
    assert r.status_code == 200, r.text
    # Then the job is cancelled at once, by the revoke, after one attempt
    done = wait_job(api, job["id"], timeout=30)
    assert done["state"] == "cancelled" and done["attempts"] == 1, done
    events = api.get(f"/v1/jobs/{job['id']}/events", headers={"Accept": "text/event-stream"}, timeout=10).text
    assert "terminated" in events and events.count("event: job.running") == 1, events
    # And Flower shows the task REVOKED
    assert _flower_state(base, auth, job["id"], {"REVOKED", "SUCCESS", "FAILURE"})["state"] == "REVOKED"
    # And once its lease would have run out, the reaper has not brought it back (cancelled is final)
    after = run_job(api, "ping", {"echo": "after terminate"})      # the worker still serves
    assert after["state"] == "succeeded", after
