"""Nothing lost, nothing run twice at once: each test runs its own stack (database + Redis)
because it kills workers or stops Redis; the machine's shared services are never touched."""
from __future__ import annotations

import signal

from kombu import Connection
from sqlalchemy import select
from sqlalchemy.engine import make_url

from cli.services import RedisServer
from domain.db import session_factory
from domain.jobs.models import Outbox
from tests.support.jobs import enqueue, events, wait_job
from tests.support.proxy import TcpProxy
from tests.support.stack import wait_for


def received(workers) -> int:
    """Deliveries the workers logged (Celery logs ``Task name[id] received`` for each)."""
    return sum(w.log_text().count("] received") for w in workers)


def test_intake_accepts_jobs_while_redis_is_down_and_publishes_them_when_it_returns(own_stack):
    st = own_stack
    st.start_intake()
    key = st.create_key()
    with st.client(key) as api:
        # Given Redis is down
        st.redis.stop()
        # When a job is posted, Then it is accepted (durable in the database) with 202
        r = api.post("/v1/jobs", json={"kind": "ping", "payload": {"echo": "survived"}})
        assert r.status_code == 202, r.text
        job_id = r.json()["job"]["id"]
        with session_factory(st.db_url)() as s:
            assert s.scalar(select(Outbox.published_at).where(Outbox.job_id == job_id)) is None
        assert api.get("/readyz").status_code == 503
        # When Redis returns on the same port and a worker starts
        st.redis = RedisServer(st.redis.port).start()
        st.start_worker(queues="maintenance", concurrency=1)
        # Then the relay publishes the job and it completes
        done = wait_job(api, job_id, timeout=60)
        assert done["state"] == "succeeded" and done["result"]["echo"] == "survived"


def test_sigkilled_worker_job_is_finished_by_another_worker_once(own_stack):
    st = own_stack
    st.start_intake()
    key = st.create_key()
    with st.client(key) as api:
        # Given a job running on worker A
        worker_a = st.start_worker(queues="maintenance", concurrency=1, name="victim")
        job = enqueue(api, "ping", {"sleep": 4, "echo": "once"})
        wait_job(api, job["id"], states={"running"}, timeout=30)
        # When worker A (all its processes) is killed with SIGKILL mid-job
        worker_a.signal_group(signal.SIGKILL)
        # and another worker is running
        st.start_worker(queues="maintenance", concurrency=1, name="rescuer")
        # Then the job completes on the other worker, after the lease (6 s) expired
        done = wait_job(api, job["id"], timeout=60)
        assert done["state"] == "succeeded"
        assert done["attempts"] == 2
        types = events(st, job["id"])
        assert types.count("job.succeeded") == 1, types
        assert "job.queued" in types[1:], "the reaper should have requeued it"


def test_a_job_that_kills_its_worker_every_time_is_dead_lettered(own_stack):
    st = own_stack
    st.start_intake(COURSEWORK_LEASE_SECONDS="2")
    key = st.create_key()
    with st.client(key) as api:
        st.start_worker(queues="maintenance", concurrency=1, COURSEWORK_LEASE_SECONDS="2",
                        COURSEWORK_HEARTBEAT_SECONDS="0.5")
        # Given a job that kills the process running it (like an out-of-memory kill)
        job = enqueue(api, "ping", {"crash_worker": True})
        # Then after a bounded number of deliveries it is dead-lettered, not redelivered forever
        done = wait_job(api, job["id"], timeout=90)
        assert done["state"] == "dead_lettered", done
        assert done["attempts"] == done["max_attempts"]
        assert done["error"]["code"] == "worker_lost"
        # and the worker is still healthy for the next job
        assert wait_job(api, enqueue(api, "ping", {})["id"])["state"] == "succeeded"


def test_a_job_longer_than_the_visibility_timeout_is_not_started_twice(own_stack):
    st = own_stack
    env = {"COURSEWORK_VISIBILITY_TIMEOUT": "2"}
    st.start_intake(**env)
    key = st.create_key()
    with st.client(key) as api:
        workers = [st.start_worker(queues="maintenance", concurrency=1, name=n, **env) for n in ("a", "b")]
        # Given a job that runs well past the broker's visibility timeout
        job = enqueue(api, "ping", {"sleep": 7})
        wait_job(api, job["id"], states={"running"}, timeout=30)
        # When the broker redelivers its message (kombu's sweep of unacked messages older than
        # the visibility timeout; run here rather than waiting for the workers' periodic sweep)
        with Connection(st.redis.url, transport_options={"visibility_timeout": 2}) as conn:
            wait_for(lambda: conn.default_channel.qos.restore_visible(num=100, interval=1) or received(workers) >= 2,
                     timeout=30, interval=0.5, message="the message's redelivery to a worker")
        done = wait_job(api, job["id"], timeout=60)
        # Then it was claimed once and succeeded once
        assert received(workers) >= 2, "the message was not delivered twice: nothing was tested"
        assert done["state"] == "succeeded" and done["attempts"] == 1
        types = events(st, job["id"])
        assert types.count("job.running") == 1 and types.count("job.succeeded") == 1


def test_a_job_delivered_while_the_database_is_away_runs_once_it_returns(own_stack):
    st = own_stack
    st.start_intake()
    key = st.create_key()
    # Given a worker that reaches PostgreSQL through a link the test can cut (intake keeps its own)
    url = make_url(st.db_url)
    link = TcpProxy(url.port or 5432, url.host).start()
    worker = st.start_worker(queues="maintenance", concurrency=1,
                             COURSEWORK_DATABASE_URL=url.set(port=link.port).render_as_string(hide_password=False))
    with st.client(key) as api:
        warm = api.post("/v1/jobs", json={"kind": "ping", "payload": {"echo": "before"}}).json()["job"]["id"]
        assert wait_job(api, warm, timeout=30)["state"] == "succeeded"
        # When the link is cut and a job is delivered to that worker, which cannot claim it
        link.cut()
        r = api.post("/v1/jobs", json={"kind": "ping", "payload": {"echo": "through the blip"}})
        assert r.status_code == 202, r.text
        job_id = r.json()["job"]["id"]
        wait_for(lambda: f"job {job_id}: could not claim" in worker.log_text(),
                 timeout=60, message="the cut-off worker's failed claim of the job")
        assert api.get(f"/v1/jobs/{job_id}").json()["job"]["state"] == "queued"
        # Then, once the database is reachable again, the job still runs, once
        link.start()
        done = wait_job(api, job_id, timeout=30)
    assert done["state"] == "succeeded" and done["result"]["echo"] == "through the blip"
    assert events(st, job_id).count("job.running") == 1 and done["attempts"] == 1
