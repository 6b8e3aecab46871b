"""The one job lifecycle, end to end through intake and a real worker."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from domain.jobs.models import JobEvent, Outbox
from intake.client import parse_sse
from tests.support.jobs import enqueue, wait_job
from tests.support.stack import wait_for


def event_types(db, job_id: str) -> list[str]:
    with db() as s:
        return list(s.scalars(select(JobEvent.type).where(JobEvent.job_id == job_id).order_by(JobEvent.id)))


def test_transient_errors_are_retried_with_backoff_then_succeed(api, db):
    # Given a job that fails twice with a transient error
    job = enqueue(api, "ping", {"fail_transient_times": 2})
    # When the worker runs it
    done = wait_job(api, job["id"], timeout=90)
    # Then it is retried and succeeds on the third attempt, each transition recorded
    assert done["state"] == "succeeded", done
    assert done["attempts"] == 3
    types = event_types(db, job["id"])
    assert types.count("job.retrying") == 2
    assert types[0] == "job.queued" and types[-1] == "job.succeeded"
    with db() as s:
        retry_events = s.scalars(select(JobEvent).where(JobEvent.job_id == job["id"],
                                                        JobEvent.type == "job.retrying")).all()
        assert all(0 <= e.data["retry_in"] <= 2 for e in retry_events)   # COURSEWORK_RETRY_BACKOFF_MAX=2


def test_retries_exhausted_means_dead_lettered_with_error_and_traceback(api, db):
    # Given a job that always fails transiently (max_attempts for ping is 4)
    job = enqueue(api, "ping", {"fail_transient_times": 20})
    done = wait_job(api, job["id"], timeout=120)
    # Then it is dead-lettered after exactly max_attempts, keeping its last error
    assert done["state"] == "dead_lettered", done
    assert done["attempts"] == done["max_attempts"] == 4
    assert "transient failure 4/20" in done["error"]["message"]
    assert "Traceback" in done["error"]["traceback"]


def test_permanent_error_fails_at_once_without_retry(api, db):
    job = enqueue(api, "ping", {"fail_permanent": True})
    done = wait_job(api, job["id"])
    assert done["state"] == "failed"
    assert done["attempts"] == 1
    assert done["error"]["code"] == "ping_failed"
    assert "job.retrying" not in event_types(db, job["id"])


def test_operator_retry_requeues_a_dead_letter(api):
    job = enqueue(api, "ping", {"fail_permanent": True})
    wait_job(api, job["id"])
    r = api.post(f"/v1/jobs/{job['id']}/retry")
    assert r.status_code == 202 and r.json()["job"]["state"] == "queued"
    done = wait_job(api, job["id"])
    assert done["state"] == "failed" and done["attempts"] == 1    # attempts reset, ran again
    # a succeeded job cannot be retried
    ok = wait_job(api, enqueue(api, "ping", {})["id"])
    assert api.post(f"/v1/jobs/{ok['id']}/retry").status_code == 409


def test_cancel_a_running_job(api, db):
    # Given a long job that is running
    job = enqueue(api, "ping", {"sleep": 60})
    wait_job(api, job["id"], states={"running"})
    # When it is cancelled
    r = api.post(f"/v1/jobs/{job['id']}/cancel")
    assert r.status_code == 202
    # Then the worker notices (heartbeat) and the job ends cancelled, long before 60 s
    done = wait_job(api, job["id"], timeout=20)
    assert done["state"] == "cancelled"
    assert api.post(f"/v1/jobs/{job['id']}/cancel").status_code == 409


def test_run_at_is_kept_in_the_database_until_due(api, db):
    # Given a job scheduled 3 s ahead
    run_at = datetime.now(timezone.utc) + timedelta(seconds=3)
    r = api.post("/v1/jobs", json={"kind": "ping", "payload": {"echo": "later"}, "run_at": run_at.isoformat()})
    assert r.status_code == 202
    job_id = r.json()["job"]["id"]
    # Then it waits in the outbox, unpublished, not as a Celery ETA
    with db() as s:
        row = s.scalar(select(Outbox).where(Outbox.job_id == job_id))
        assert row.published_at is None
    assert api.get(f"/v1/jobs/{job_id}").json()["job"]["state"] == "queued"
    # When it is due, the relay publishes it and it runs
    done = wait_job(api, job_id, timeout=30)
    assert done["state"] == "succeeded"
    assert datetime.fromisoformat(done["started_at"]) >= run_at


def test_cancel_a_scheduled_job_before_it_runs(api):
    run_at = datetime.now(timezone.utc) + timedelta(seconds=30)
    job_id = api.post("/v1/jobs", json={"kind": "ping", "payload": {}, "run_at": run_at.isoformat()}).json()["job"]["id"]
    assert api.post(f"/v1/jobs/{job_id}/cancel").json()["job"]["state"] == "cancelled"


def test_event_stream_follows_a_job_to_its_end(api):
    job = enqueue(api, "ping", {"sleep": 1})
    with api.stream("GET", f"/v1/jobs/{job['id']}/events", timeout=30) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        events = list(parse_sse(r.iter_lines()))
    types = [e["type"] for e in events]
    assert types[0] == "job.queued" and "job.running" in types and types[-1] == "job.succeeded"
    ids = [e["id"] for e in events]
    assert ids == sorted(ids)
    # a late client resumes after Last-Event-ID and gets only what it missed
    with api.stream("GET", f"/v1/jobs/{job['id']}/events", headers={"Last-Event-ID": str(ids[1])}) as r:
        rest = list(parse_sse(r.iter_lines()))
    assert [e["id"] for e in rest] == ids[2:]


def test_a_second_delivery_while_running_does_not_run_twice(api, db):
    # Given a job that is running
    job = enqueue(api, "ping", {"sleep": 3})
    wait_job(api, job["id"], states={"running"})
    # When its message is delivered again (as after a visibility-timeout redelivery)
    from workers.app import app

    app.send_task("tasks.ping.ping", args=[job["id"]], queue="maintenance")
    done = wait_job(api, job["id"], timeout=30)
    # Then it ran once: one claim, one success
    assert done["state"] == "succeeded" and done["attempts"] == 1
    types = event_types(db, job["id"])
    assert types.count("job.running") == 1 and types.count("job.succeeded") == 1


def test_events_are_published_on_redis(api, redis_server):
    import redis

    r = redis.Redis.from_url(redis_server.url)
    p = r.pubsub()
    p.subscribe("cw:events")
    p.get_message(timeout=1)
    job = enqueue(api, "ping", {})
    wait_job(api, job["id"])
    seen = []

    def got_success():
        msg = p.get_message(timeout=0.2)
        if msg and msg["type"] == "message":
            seen.append(json.loads(msg["data"]))
        return any(e["job_id"] == job["id"] and e["type"] == "job.succeeded" for e in seen)

    wait_for(got_success, timeout=10, message="job.succeeded on cw:events")
