"""Redis is a cache of work: intake never waits on it, a job whose message it loses still runs
(once), workers outlive its restarts; a database blip answers 503, not 500. Each test runs its
own stack (database + Redis) because it stops, flushes or restarts them."""
from __future__ import annotations

import signal
import subprocess

import pytest
import redis
from sqlalchemy import select
from sqlalchemy.engine import make_url

from cli.services import ROOT, coursework_argv
from domain.db import session_factory
from domain.jobs.models import Outbox
from tests.support.jobs import enqueue, events, wait_job
from tests.support.proxy import TcpProxy
from tests.support.stack import Stack, private_redis, wait_for


def published(stack: Stack, job_id: str) -> list:
    with session_factory(stack.db_url)() as s:
        return list(s.scalars(select(Outbox.published_at).where(Outbox.job_id == job_id)))


def broker(stack: Stack) -> redis.Redis:
    return redis.Redis.from_url(stack.redis_url)


def assert_ran_once(stack: Stack, job: dict) -> None:
    types = events(stack, job["id"])
    assert job["state"] == "succeeded" and job["attempts"] == 1, job
    assert types.count("job.running") == 1 and types.count("job.succeeded") == 1, types


def test_intake_keeps_answering_while_redis_hangs(own_stack):
    st = own_stack
    st.start_intake()
    key = st.create_key()
    with st.client(key) as api:
        # Given Redis frozen (it accepts connections but never answers: the worst case for a client)
        st.redis.proc.send_signal(signal.SIGSTOP)
        try:
            # When jobs are posted, Then each is accepted (the rate limiter fails open) while
            # Redis stays frozen, and readiness says Redis is away
            ids = [enqueue(api, "ping", {"echo": f"frozen {i}"})["id"] for i in range(5)]
            ready = api.get("/readyz")
            assert ready.status_code == 503 and ready.json()["checks"]["redis"] != "ok", ready.text
            assert ready.json()["checks"]["database"] == "ok"
            assert all(published(st, job_id) == [None] for job_id in ids)
        finally:
            st.redis.proc.send_signal(signal.SIGCONT)
        # When Redis answers again and a worker runs, Then the relay publishes them and each runs once
        st.start_worker(queues="maintenance", concurrency=2)
        for job_id in ids:
            assert_ran_once(st, wait_job(api, job_id, timeout=60))


def test_a_job_whose_message_redis_lost_is_published_again_and_runs_once(own_stack):
    st = own_stack
    st.start_intake(COURSEWORK_STRANDED_SECONDS="2")
    key = st.create_key()
    with st.client(key) as api:
        # Given a job published (its outbox row marked) and waiting in Redis, with no worker yet
        job = enqueue(api, "ping", {"echo": "flushed"})
        wait_for(lambda: published(st, job["id"]) != [None], message="the job's outbox row marked published")
        assert broker(st).llen("maintenance") == 1
        # When Redis loses its data
        broker(st).flushdb()
        assert broker(st).llen("maintenance") == 0
        # Then the relay publishes the stranded job again and it runs, once
        wait_for(lambda: broker(st).llen("maintenance") == 1, message="the job published again")
        st.start_worker(queues="maintenance", concurrency=2)
        assert_ran_once(st, wait_job(api, job["id"], timeout=60))
        assert "job.republished" in events(st, job["id"])


def test_an_operator_republishes_a_stuck_queued_job_and_the_duplicate_is_harmless(own_stack):
    st = own_stack
    st.start_intake(COURSEWORK_RELAY_IN_INTAKE="false")      # nothing republishes on its own here
    key = st.create_key()
    with st.client(key) as api:
        # Given a queued job whose message Redis lost
        job = enqueue(api, "ping", {"echo": "by hand"})
        wait_for(lambda: published(st, job["id"]) != [None], message="the job's outbox row marked published")
        broker(st).flushdb()
        # When an operator retries it twice (two messages for one job)
        for _ in range(2):
            out = subprocess.run(coursework_argv("jobs", "retry", job["id"]), env=st.env(), cwd=ROOT,
                                 capture_output=True, text=True, timeout=60)
            assert out.returncode == 0 and f"republished {job['id']}" in out.stdout, out.stderr
        assert broker(st).llen("maintenance") == 2
        # Then a worker runs the job once and skips the duplicate
        worker = st.start_worker(queues="maintenance", concurrency=2)
        assert_ran_once(st, wait_job(api, job["id"], timeout=60))
        wait_for(lambda: broker(st).llen("maintenance") == 0, message="both messages consumed")
        wait_for(lambda: "not run: succeeded" in worker.log_text() or "not run: leased" in worker.log_text(),
                 message="the duplicate delivery skipped")


@pytest.mark.parametrize("pool", ["prefork", "threads"])
def test_a_worker_keeps_consuming_after_redis_restarts_under_it(own_stack, pool):
    st = own_stack
    st.start_intake(COURSEWORK_STRANDED_SECONDS="3")
    key = st.create_key()
    with st.client(key) as api:
        # Given a worker running a job (its message unacknowledged) and waiting for more (a BRPOP
        # in flight on its second slot): kombu's Redis transport used to kill such a worker
        worker = st.start_worker(queues="maintenance", concurrency=2, pool=pool, name=f"restart-{pool}")
        held = enqueue(api, "ping", {"sleep": 3, "echo": "held"})
        wait_job(api, held["id"], states={"running"}, timeout=30)
        # When Redis restarts (without persistence: every message and the unacked set are gone)
        st.redis.restart()
        # Then the worker is still there and goes on consuming: the job it held and new ones run once
        later = [enqueue(api, "ping", {"echo": f"after restart {i}"}) for i in range(3)]
        for job in [held, *later]:
            assert_ran_once(st, wait_job(api, job["id"], timeout=90))
        assert worker.alive(), worker.log_text()[-3000:]
        # And again after a second restart, with nothing running
        st.redis.restart()
        assert_ran_once(st, wait_job(api, enqueue(api, "ping", {"echo": "second"})["id"], timeout=90))
        assert worker.alive(), worker.log_text()[-3000:]
        assert "Unrecoverable error" not in worker.log_text()


def test_a_database_blip_answers_503_with_retry_after(own_stack):
    st = own_stack
    # Given an intake that reaches PostgreSQL through a link the test can cut
    url = make_url(st.db_url)
    link = TcpProxy(url.port or 5432, url.host).start()
    st.start_intake(COURSEWORK_DATABASE_URL=url.set(port=link.port).render_as_string(hide_password=False),
                    COURSEWORK_RELAY_IN_INTAKE="false")
    key = st.create_key()
    st.start_worker(queues="maintenance", concurrency=1)
    with st.client(key) as api:
        assert wait_job(api, enqueue(api, "ping", {"echo": "warm"})["id"])["state"] == "succeeded"
        # When the link is cut, Then a post is answered 503 with Retry-After, not 500
        link.cut()
        r = api.post("/v1/jobs", json={"kind": "ping", "payload": {"echo": "blip"}},
                     headers={"Idempotency-Key": "blip-1"})
        assert r.status_code == 503, r.text
        assert r.json()["error"]["code"] == "unavailable" and int(r.headers["Retry-After"]) >= 1
        # When the database is back, Then the same request (same key) is accepted and runs once
        link.start()
        r = api.post("/v1/jobs", json={"kind": "ping", "payload": {"echo": "blip"}},
                     headers={"Idempotency-Key": "blip-1"})
        assert r.status_code == 202, r.text
        assert_ran_once(st, wait_job(api, r.json()["job"]["id"]))


def test_a_channel_whose_transport_is_detached_closes_and_acks_without_killing_the_worker():
    """The state kombu's Redis transport reaches when the broker drops while a consumer waits on
    BRPOP holding unacknowledged messages (Celery's ``collect()`` detached the transport, the
    channel is still open); closing it must not raise (``workers.kombu_fixes``)."""
    from kombu import Connection, Exchange, Queue

    from workers import kombu_fixes

    kombu_fixes.install()
    server = private_redis()
    try:
        # Given a consumer holding two unacknowledged messages and a BRPOP in flight
        conn = Connection(server.url)
        queue = Queue("faults-q", Exchange("faults-x", type="direct"), routing_key="faults-q")
        with conn.Producer() as producer:
            for i in range(2):
                producer.publish({"i": i}, exchange=queue.exchange, routing_key="faults-q", declare=[queue])
        held = []
        conn.Consumer([queue], callbacks=[lambda body, message: held.append(message)], prefetch_count=5).consume()
        while len(held) < 2:
            conn.drain_events(timeout=5)
        channel = conn.default_channel
        assert len(channel.qos._delivered) == 2
        # When its transport is detached while the channel stays open (as after a failed collect)
        channel._in_poll = None
        conn._do_close_transport()
        assert not channel.closed and channel.connection.client is None
        # Then closing the connection does not raise (it used to: AttributeError on 'hostname')
        conn.close()
        assert channel.closed
        # and acking a held message through the closed channel (a task finishing after the
        # worker reconnected) is a connection error, which Celery logs, not an AttributeError
        with pytest.raises(redis.ConnectionError):
            held[0].ack()
    finally:
        server.stop()
