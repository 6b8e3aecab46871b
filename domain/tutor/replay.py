"""What a reply has said so far, kept in a Redis stream per reply so a late listener catches up.

Entries: ``start {attempt}``, ``token {text}``, ``reset {reason}`` (drop what was shown, e.g. the
hint guard rewrote the reply or a retry starts over), ``done {message}``, ``error {code, message}``.
The Redis client is passed in (the worker's ``ctx.redis``); readers live in intake.
"""
from __future__ import annotations

import json
from typing import Any

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


class ReplyLog:
    def __init__(self, redis: Any, reply_id: str, ttl: int, maxlen: int = 20_000):
        self.r, self.key, self.ttl, self.maxlen = redis, stream_key(reply_id), ttl, maxlen

    def _add(self, kind: str, data: dict, expire: bool = False) -> None:
        body = {"type": kind, "data": json.dumps(data, separators=(",", ":"))}
        if expire:
            pipe = self.r.pipeline(transaction=False)
            pipe.xadd(self.key, body, maxlen=self.maxlen, approximate=True)
            pipe.expire(self.key, self.ttl)
            pipe.execute()
        else:
            self.r.xadd(self.key, body, maxlen=self.maxlen, approximate=True)

    def start(self, attempt: int) -> None:
        self._add("start", {"attempt": attempt}, expire=True)

    def token(self, text: str) -> None:
        if text:
            self._add("token", {"text": text})

    def reset(self, reason: str) -> None:
        self._add("reset", {"reason": reason})

    def done(self, message: dict) -> None:
        self._add("done", message, expire=True)

    def error(self, code: str, message: str) -> None:
        self._add("error", {"code": code, "message": message}, expire=True)
