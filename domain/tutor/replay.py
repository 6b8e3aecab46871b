"""What a reply has said so far, kept in a Redis stream per reply so a late listener catches up.

Entries: ``start {attempt}``, ``token {text}``, ``reset {reason}`` (drop what was shown, e.g. the
hint guard rewrote the reply or a retry starts over), ``done {message}``, ``error {code, message}``.
The Redis client is passed in (the worker's ``ctx.redis``); readers live in intake.

Writes are cheap on purpose, they compete with other replies' first tokens for the worker's CPU:
``start`` is not written alone but with the reply's first token (or its end), in one pipeline, and
with a ``Coalescer`` the tokens after the first are held and written every ``interval`` seconds,
every reply of the process in one pipeline (a stalled model cannot hold them back: a thread flushes).
"""
from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any, Callable

log = logging.getLogger(__name__)
FINAL = frozenset({"done", "error"})


def stream_key(reply_id: str) -> str:
    return f"cw:tutor:reply:{reply_id}"


def decode(fields: dict) -> tuple[str, dict]:
    get = lambda k: fields.get(k) if k in fields else fields.get(k.encode())  # noqa: E731
    kind = get("type")
    raw = get("data")
    kind = kind.decode() if isinstance(kind, bytes) else kind
    raw = raw.decode() if isinstance(raw, bytes) else raw
    return kind, json.loads(raw or "{}")


def _body(kind: str, data: dict) -> dict:
    return {"type": kind, "data": json.dumps(data, separators=(",", ":"))}


class Coalescer:
    """One thread per process that writes the tokens every open reply holds, in one pipeline,
    ``interval`` seconds after the first of them was held."""

    def __init__(self, redis: Any, interval: float = 0.03, sleep: Callable[[float], Any] = time.sleep):
        self.r, self.interval, self.sleep = redis, interval, sleep
        self.held: set[ReplyLog] = set()
        self.cv = threading.Condition()
        self.thread: threading.Thread | None = None

    def hold(self, reply: "ReplyLog") -> None:
        with self.cv:
            if not self.held:
                self.cv.notify()
            self.held.add(reply)
            if self.thread is None or not self.thread.is_alive():     # first use, or it died: tokens would stall
                self.thread = threading.Thread(target=self._run, name="tutor-token-flusher", daemon=True)
                self.thread.start()

    def _run(self) -> None:
        while True:
            with self.cv:
                while not self.held:
                    self.cv.wait()
            self.sleep(self.interval)
            with self.cv:
                due, self.held = self.held, set()
            self.flush(due)

    def flush(self, due) -> None:
        locked = []
        try:
            pipe = self.r.pipeline(transaction=False)
            for reply in due:
                reply.lock.acquire()
                locked.append(reply)
                reply.queue_held(pipe)
            if len(pipe):
                pipe.execute()
        except Exception as exc:    # the reply's thread raises it at its next write: the job retries
            log.warning("tutor token flush failed: %s", exc)
            for reply in locked:
                reply.failed = exc
        finally:
            for reply in locked:
                reply.lock.release()


class ReplyLog:
    def __init__(self, redis: Any, reply_id: str, ttl: int, maxlen: int = 20_000,
                 coalescer: Coalescer | None = None):
        self.r, self.key, self.ttl, self.maxlen = redis, stream_key(reply_id), ttl, maxlen
        self.coalescer = coalescer
        self.lock = threading.Lock()
        self.pending_start: dict | None = None     # written with the first token
        self.held: list[str] = []
        self.failed: Exception | None = None

    def _queue(self, pipe, kind: str, data: dict) -> None:
        pipe.xadd(self.key, _body(kind, data), maxlen=self.maxlen, approximate=True)

    def queue_held(self, pipe) -> None:
        """Queue the held tokens as one entry (caller holds ``lock``)."""
        if self.held:
            self._queue(pipe, "token", {"text": "".join(self.held)})
            self.held = []

    def _write(self, kind: str, data: dict, expire: bool = False, before: Callable[[Any], Any] | None = None) -> None:
        with self.lock:
            if self.failed is not None:
                raise self.failed
            pipe = self.r.pipeline(transaction=False)
            if before is not None:
                before(pipe)
            if self.pending_start is not None:
                self._queue(pipe, "start", self.pending_start)
                self.pending_start, expire = None, True
            self.queue_held(pipe)
            self._queue(pipe, kind, data)
            if expire:
                pipe.expire(self.key, self.ttl)
            pipe.execute()

    def start(self, attempt: int) -> None:
        """Said with the first token (or the end): listeners start over when they see it."""
        self.pending_start = {"attempt": attempt}

    def token(self, text: str) -> None:
        if not text:
            return
        if self.coalescer is None or self.pending_start is not None:
            self._write("token", {"text": text})    # the first token goes out at once
            return
        with self.lock:
            if self.failed is not None:
                raise self.failed
            self.held.append(text)
        self.coalescer.hold(self)

    def reset(self, reason: str) -> None:
        self._write("reset", {"reason": reason})

    def done(self, message: dict, before: Callable[[Any], Any] | None = None) -> None:
        """The end; ``before(pipe)`` may queue other commands to go first, in the same round trip."""
        self._write("done", message, expire=True, before=before)

    def error(self, code: str, message: str) -> None:
        self._write("error", {"code": code, "message": message}, expire=True)
