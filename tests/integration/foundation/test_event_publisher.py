"""The process's event publisher (``workers.events``): events from many threads reach Redis in
each thread's order, a burst shares round trips, and a failed round trip does not stop the next."""
from __future__ import annotations

import json
import threading
from datetime import datetime, timezone

import redis

from domain.jobs.models import JobEvent
from workers import events


def event(job_id: str, n: int) -> JobEvent:
    return JobEvent(id=n, job_id=job_id, type="job.progress", data={"n": n}, user_id=None,
                    created_at=datetime.now(timezone.utc))


def subscribed(redis_server, channel: str):
    p = redis.Redis.from_url(redis_server.url).pubsub()
    p.subscribe(channel)
    assert p.get_message(timeout=2)["type"] == "subscribe"
    return p


def received(p, count: int) -> list[dict]:
    out = []
    while len(out) < count:
        msg = p.get_message(timeout=5)
        assert msg is not None, f"only {len(out)} of {count} events arrived"
        if msg["type"] == "message":
            out.append(json.loads(msg["data"]))
    return out


def test_events_from_many_threads_arrive_in_each_threads_order_in_fewer_round_trips(redis_server, monkeypatch):
    events.reset_client()
    job_id = "pub-order"
    p = subscribed(redis_server, events.job_channel(job_id))
    batches = []
    real_send = events.send
    monkeypatch.setattr(events, "send", lambda batch: (batches.append(len(batch)), real_send(batch)))
    start = threading.Barrier(4)

    def emit(thread: int):
        start.wait()
        for i in range(50):
            events.publish([event(job_id, thread * 1000 + i)])

    threads = [threading.Thread(target=emit, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert events.publisher().flush()
    got = [e["data"]["n"] for e in received(p, 200)]
    for thread in range(4):
        mine = [n for n in got if n // 1000 == thread]
        assert mine == sorted(mine) and len(mine) == 50
    assert len(batches) < 200       # 200 publish calls, fewer pipelines


def test_a_failed_round_trip_is_logged_and_the_next_events_still_go_out(redis_server, monkeypatch, caplog):
    events.reset_client()
    job_id = "pub-failure"
    p = subscribed(redis_server, events.job_channel(job_id))
    monkeypatch.setattr(events, "client", lambda url=None: redis.Redis(port=1, socket_connect_timeout=0.5))
    events.publish([event(job_id, 1)])
    assert events.publisher().flush(timeout=5)
    assert "event publish failed" in caplog.text
    monkeypatch.undo()
    events.reset_client()
    events.publish([event(job_id, 2)])
    assert [e["data"]["n"] for e in received(p, 1)] == [2]
