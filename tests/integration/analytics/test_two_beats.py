"""Two real ``coursework beat`` processes started at once against the private Redis: each
entry fires once per interval (RedBeat's lock), and the second takes over when the first dies."""
import json
import signal
import time
from contextlib import contextmanager

import pytest
import redis

from cli.services import Child, coursework_argv
from tests.support.stack import LOG_DIR, Stack, wait_for

TASK = "tasks.analytics.rollup_tick"


def fired(r: redis.Redis) -> int:
    """Rollup ticks beat published on the analytics queue (no worker listens on this Redis DB)."""
    return sum(json.loads(m)["headers"]["task"] == TASK for m in r.lrange("analytics", 0, -1))


def sends(child: Child) -> int:
    return child.log_text().count("Sending due task roll-up-new-learning-events")


@contextmanager
def two_beats(database, redis_server, s3_server):
    # a Redis DB of their own, the rollup entry every second, a short lock timeout
    url = redis_server.url.rsplit("/", 1)[0] + "/5"
    r = redis.Redis.from_url(url)
    r.flushdb()
    env = Stack(database, url, s3_server.endpoint).env(COURSEWORK_ROLLUP_INTERVAL_SECONDS="1",
                                                       COURSEWORK_BEAT_LOCK_TIMEOUT="4")
    tag = f"{time.time():.0f}"
    beats = []
    try:
        for i in (1, 2):       # started at the same time
            log = LOG_DIR / f"beat-{tag}-{i}.log"
            log.parent.mkdir(parents=True, exist_ok=True)
            log.write_text("")
            beats.append(Child(coursework_argv("beat"), env, log).start())
        wait_for(lambda: fired(r) >= 1, timeout=60, message="the first rollup tick")
        yield r, beats
    finally:
        for b in beats:     # a beat still waiting for the lock holds nothing: end it at once
            if b.alive() and sends(b) == 0:
                b.signal_group(signal.SIGKILL)
        for b in beats:
            b.stop()
        r.flushdb()


def test_two_beats_fire_each_entry_once_per_interval(database, redis_server, s3_server):
    # Given two beats started at once
    with two_beats(database, redis_server, s3_server) as (r, beats):
        # When they run side by side until the entry has come due several times
        wait_for(lambda: max(map(sends, beats)) >= 4, timeout=60, message="four rollup ticks")
        # Then both keep running (one waits for the lock) and only one of them ever sends
        assert all(b.alive() for b in beats), "both beats keep running (one waits for the lock)"
        holder, waiter = sorted(beats, key=sends, reverse=True)
        assert sends(waiter) == 0, "the second beat sent too: the entry fires twice per interval"
        # and every tick on the queue is one the holder logged (two unlocked beats would publish
        # each due entry twice; the count settles once the last logged send is published)
        assert wait_for(lambda: fired(r) == sends(holder) or None, timeout=10, message="ticks == the holder's sends")


@pytest.mark.slow
def test_the_waiting_beat_takes_over_when_the_holder_dies(database, redis_server, s3_server):
    with two_beats(database, redis_server, s3_server) as (r, beats):
        wait_for(lambda: max(map(sends, beats)) >= 2, timeout=60, message="the holder sending")
        holder, waiter = sorted(beats, key=sends, reverse=True)
        assert sends(waiter) == 0
        # When the beat holding the lock dies without releasing it
        holder.signal_group(signal.SIGKILL)
        holder.proc.wait(10)
        assert not holder.alive()
        published = fired(r)
        # Then the other takes over once the lock expires, and its ticks reach the queue
        wait_for(lambda: sends(waiter) >= 3, timeout=40, message="the second beat taking over")
        assert wait_for(lambda: fired(r) - published >= sends(waiter) or None, timeout=10,
                        message="the second beat's ticks on the queue")
