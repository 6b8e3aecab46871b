"""The client's retries and fallbacks against a real HTTP server on loopback that answers as
scripted: 429 with Retry-After, 503, a dropped connection, an event stream that cannot be had."""
from __future__ import annotations

import asyncio
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from coursework_client import ApiError, AsyncClient, Client, Policy

JOB = {"id": "j1", "kind": "ping", "queue": "maintenance", "state": "queued", "attempts": 0, "max_attempts": 3,
       "progress": 0}
ACCEPTED = {"job": JOB, "links": {"self": "/v1/jobs/j1", "events": "/v1/jobs/j1/events"}}


class Scripted:
    """Answers each (method, path) from its script, in order; the last answer repeats.
    An answer is (status, headers, body), ("sse", text, "drop" | "end") or "drop" (close the
    connection without a word)."""

    def __init__(self, script: dict):
        self.script = {k: list(v) for k, v in script.items()}
        self.seen: list[tuple[float, str, str, dict]] = []
        scripted = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _answer(self):
                length = int(self.headers.get("content-length") or 0)
                if length:
                    self.rfile.read(length)
                path = self.path.split("?")[0]
                scripted.seen.append((time.monotonic(), self.command, path, dict(self.headers)))
                answers = scripted.script[(self.command, path)]
                answer = answers.pop(0) if len(answers) > 1 else answers[0]
                if answer == "drop":
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                if answer[0] == "sse":      # ("sse", text, "drop" | "end"): a stream cut off, or ended
                    self.protocol_version = "HTTP/1.1"      # chunked, as intake streams: a cut is told apart
                    self.send_response(200)
                    self.send_header("Content-Type", "text/event-stream")
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    data = answer[1].encode()
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                    if answer[2] == "end":
                        self.wfile.write(b"0\r\n\r\n")
                    self.wfile.flush()
                    self.close_connection = True
                    if answer[2] == "drop":
                        self.connection.shutdown(2)
                    return
                status, headers, body = answer
                data = json.dumps(body).encode()
                self.send_response(status)
                for k, v in {"Content-Type": "application/json", **headers}.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _answer

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def calls(self, method: str, path: str) -> list[tuple[float, dict]]:
        return [(t, h) for t, m, p, h in self.seen if (m, p) == (method, path)]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def server():
    made = []

    def make(script):
        made.append(Scripted(script))
        return made[-1]

    yield make
    for s in made:
        s.close()


def envelope(code):
    return {"error": {"code": code, "message": code, "details": []}}


def test_429_waits_for_retry_after_and_retries_with_the_same_idempotency_key(server):
    srv = server({("POST", "/v1/jobs"): [(429, {"Retry-After": "1"}, envelope("rate_limited")),
                                         (202, {}, ACCEPTED)]})
    with Client(srv.url, "k") as cw:
        assert cw.enqueue("ping").job.id == "j1"
    (t1, h1), (t2, h2) = srv.calls("POST", "/v1/jobs")
    assert h1["Idempotency-Key"] == h2["Idempotency-Key"] and h1["Idempotency-Key"]
    assert t2 - t1 >= 1.0          # Retry-After: 1 was honoured


def test_503_and_a_dropped_connection_are_retried_with_backoff(server):
    srv = server({("POST", "/v1/jobs"): ["drop", (503, {}, envelope("unavailable")), (202, {}, ACCEPTED)]})
    with Client(srv.url, "k", retry=Policy(max_retries=3, base=0.05)) as cw:
        assert cw.enqueue("ping").job.id == "j1"
    keys = {h["Idempotency-Key"] for _, h in srv.calls("POST", "/v1/jobs")}
    assert len(srv.calls("POST", "/v1/jobs")) == 3 and len(keys) == 1


def test_retries_end_and_a_too_long_retry_after_is_left_to_the_caller(server):
    srv = server({("POST", "/v1/jobs"): [(503, {}, envelope("unavailable"))],
                  ("GET", "/v1/jobs/j1"): [(429, {"Retry-After": "3600"}, envelope("rate_limited"))]})
    with Client(srv.url, "k", retry=Policy(max_retries=2, base=0.01)) as cw:
        with pytest.raises(ApiError) as err:
            cw.enqueue("ping")
        assert err.value.status == 503 and len(srv.calls("POST", "/v1/jobs")) == 3
        with pytest.raises(ApiError) as err:
            cw.get_job("j1")
        assert err.value.status == 429 and err.value.retry_after == 3600
        assert len(srv.calls("GET", "/v1/jobs/j1")) == 1


def test_4xx_other_than_429_is_not_retried(server):
    srv = server({("POST", "/v1/jobs"): [(422, {}, envelope("validation_error"))]})
    with Client(srv.url, "k") as cw, pytest.raises(ApiError):
        cw.enqueue("ping")
    assert len(srv.calls("POST", "/v1/jobs")) == 1


def test_wait_falls_back_to_polling_when_the_stream_cannot_be_had(server):
    running, done = {**JOB, "state": "running"}, {**JOB, "state": "succeeded"}
    srv = server({("GET", "/v1/jobs/j1/events"): [(500, {}, envelope("internal_error"))],
                  ("GET", "/v1/jobs/j1"): [(200, {}, {"job": running, "links": ACCEPTED["links"]}),
                                           (200, {}, {"job": running, "links": ACCEPTED["links"]}),
                                           (200, {}, {"job": done, "links": ACCEPTED["links"]})]})
    with Client(srv.url, "k", poll_interval=0.2) as cw:
        assert cw.wait("j1", timeout=30).state == "succeeded"
    polls = [t for t, _ in srv.calls("GET", "/v1/jobs/j1")]
    assert len(polls) == 3
    # spaced by the poll interval, growing: a few requests a minute, never a tight loop
    assert polls[1] - polls[0] >= 0.2 and polls[2] - polls[1] >= 0.3


def _sse(event_id: int, type_: str) -> str:
    data = {"id": event_id, "job_id": "j1", "type": type_, "data": {}}
    return f"id: {event_id}\nevent: {type_}\ndata: {json.dumps(data)}\n\n"


@pytest.mark.parametrize("client", ["sync", "async"])
def test_a_dropped_event_stream_resumes_after_the_last_event_it_got(server, client):
    srv = server({("GET", "/v1/jobs/j1/events"): [("sse", _sse(1, "job.queued") + _sse(2, "job.running"), "drop"),
                                                  ("sse", _sse(3, "job.succeeded"), "end")]})
    if client == "sync":
        with Client(srv.url, "k") as cw:
            got = [e.type for e in cw.events("j1")]
    else:
        async def follow():
            async with AsyncClient(srv.url, "k") as cw:
                return [e.type async for e in cw.events("j1")]
        got = asyncio.run(follow())
    assert got == ["job.queued", "job.running", "job.succeeded"]       # each once, in order
    (_, first), (_, second) = srv.calls("GET", "/v1/jobs/j1/events")
    assert "Last-Event-ID" not in first and second["Last-Event-ID"] == "2"
