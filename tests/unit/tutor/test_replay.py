"""The reply log's writes: ``start`` goes out with the first token, later tokens are merged by the
process's coalescer (also when the model pauses), and the end flushes what is held, in order."""
import threading

import pytest

from domain.tutor.replay import Coalescer, ReplyLog, decode


class FakeRedis:
    """Records what each pipeline sent (our own interface to Redis: pipeline, xadd, expire, execute)."""

    def __init__(self, fail: bool = False):
        self.sent: list[list[tuple]] = []
        self.fail = fail
        self.flushed = threading.Event()

    def pipeline(self, transaction=False):
        return FakePipe(self)


class FakePipe:
    def __init__(self, r):
        self.r, self.ops = r, []

    def __len__(self):
        return len(self.ops)

    def xadd(self, key, body, maxlen=None, approximate=True):
        self.ops.append(("xadd", key, decode(body)))

    def expire(self, key, ttl):
        self.ops.append(("expire", key, ttl))

    def execute(self):
        if self.r.fail:
            self.r.flushed.set()
            raise ConnectionError("redis went away")
        self.r.sent.append(self.ops)
        self.r.flushed.set()


def entries(r):
    return [op[2] for batch in r.sent for op in batch if op[0] == "xadd"]


def test_start_waits_for_the_first_token_and_goes_with_it():
    r = FakeRedis()
    log = ReplyLog(r, "r1", ttl=60)
    log.start(2)
    assert r.sent == []
    log.token("Hello ")
    log.token("world")
    log.done({"content": "Hello world"})
    assert [op[0] for op in r.sent[0]] == ["xadd", "xadd", "expire"]
    assert entries(r) == [("start", {"attempt": 2}), ("token", {"text": "Hello "}), ("token", {"text": "world"}),
                          ("done", {"content": "Hello world"})]


def test_with_a_coalescer_later_tokens_are_merged_and_the_end_flushes_them_first():
    r = FakeRedis()
    log = ReplyLog(r, "r1", ttl=60, coalescer=Coalescer(r, interval=3600))    # its thread never gets to it
    log.start(1)
    log.token("A ")
    assert entries(r) == [("start", {"attempt": 1}), ("token", {"text": "A "})]      # the first one at once
    for word in ("b ", "c ", "d"):
        log.token(word)
    assert len(entries(r)) == 2                                                   # held
    log.done({"content": "A b c d"})
    assert entries(r)[2:] == [("token", {"text": "b c d"}), ("done", {"content": "A b c d"})]


def test_held_tokens_go_out_without_another_write_when_the_model_pauses():
    r = FakeRedis()
    interval_over, slept = threading.Event(), []
    coalescer = Coalescer(r, interval=0.01, sleep=lambda s: (slept.append(s), interval_over.wait(10)))
    one, two = ReplyLog(r, "r1", ttl=60, coalescer=coalescer), ReplyLog(r, "r2", ttl=60, coalescer=coalescer)
    for log in (one, two):
        log.start(1)
        log.token("first ")
    r.flushed.clear()
    one.token("x")
    two.token("y")
    assert r.sent and not r.flushed.is_set()    # held while the interval runs
    interval_over.set()     # (its clock: the interval ends once both are held, however slow the machine)
    # no further token and no end: the coalescer's thread writes both replies' held text
    assert r.flushed.wait(10)
    assert slept[0] == 0.01
    flushed = {op[1]: op[2] for op in r.sent[-1]}
    assert flushed == {"cw:tutor:reply:r1": ("token", {"text": "x"}), "cw:tutor:reply:r2": ("token", {"text": "y"})}


def test_a_failed_flush_surfaces_in_the_replys_next_write():
    r = FakeRedis()
    log = ReplyLog(r, "r1", ttl=60, coalescer=Coalescer(r, interval=0.01))
    log.start(1)
    log.token("first ")
    r.fail = True
    r.flushed.clear()
    log.token("held")
    assert r.flushed.wait(10)
    r.fail = False          # Redis is back, but the reply lost text: its job must start over
    with pytest.raises(ConnectionError):
        log.done({})
    assert entries(r)[-1] == ("token", {"text": "first "})


def test_a_flusher_thread_that_died_is_started_again():
    r = FakeRedis()
    coalescer = Coalescer(r, interval=0)
    dead = threading.Thread(target=lambda: None)
    dead.start()
    dead.join()
    coalescer.thread = dead
    log = ReplyLog(r, "r1", ttl=60, coalescer=coalescer)
    log.start(1)
    log.token("first ")
    r.flushed.clear()
    log.token("x")
    assert r.flushed.wait(10) and coalescer.thread is not dead
    assert entries(r)[-1] == ("token", {"text": "x"})


class BrokenPipelineRedis(FakeRedis):
    """``pipeline()`` itself raises once ``broken`` is set (and clears it)."""

    def __init__(self):
        super().__init__()
        self.broken, self.broke = threading.Event(), threading.Event()

    def pipeline(self, transaction=False):
        if self.broken.is_set():
            self.broken.clear()
            self.broke.set()
            raise ConnectionError("no connection for a pipeline")
        return super().pipeline(transaction)


def test_a_pipeline_that_cannot_be_opened_does_not_stop_the_flusher():
    r = BrokenPipelineRedis()
    coalescer = Coalescer(r, interval=0)
    log = ReplyLog(r, "r1", ttl=60, coalescer=coalescer)
    log.start(1)
    log.token("first ")
    r.broken.set()
    log.token("x")
    assert r.broke.wait(10)     # the flush could not start: "x" is still held by the reply
    flusher = coalescer.thread
    r.flushed.clear()
    log.token("y")
    # the same thread writes what was held, nothing lost
    assert r.flushed.wait(10) and coalescer.thread is flusher and flusher.is_alive()
    assert entries(r)[-1] == ("token", {"text": "xy"})
