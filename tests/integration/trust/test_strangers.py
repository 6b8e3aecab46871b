"""Bounded time for strangers: header, body and keep-alive deadlines, a per-address limit for
requests without a valid key, and a rate limit on the public certificate check."""
from __future__ import annotations

import socket

import httpx
import pytest

from tests.support.stack import wait_for


@pytest.fixture(scope="module")
def strict(stack, redis_server):
    shared = stack.intake_url
    # a Redis database of its own, so other tests' requests do not count against these limits
    url = stack.start_intake(COURSEWORK_HTTP_HEADER_TIMEOUT="1", COURSEWORK_HTTP_BODY_TIMEOUT="1",
                             COURSEWORK_HTTP_KEEP_ALIVE_TIMEOUT="1", COURSEWORK_ANONYMOUS_RATE_PER_MINUTE="5",
                             COURSEWORK_VERIFY_RATE_PER_MINUTE="3", COURSEWORK_RELAY_IN_INTAKE="false",
                             COURSEWORK_REDIS_URL=redis_server.url.rsplit("/", 1)[0] + "/7")
    stack.intake_url = shared
    return url


def _connect(url: str) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=15)
    return sock


def _closed_by_server(sock: socket.socket) -> bool:
    """Reads until the server closes (b"") - the socket timeout (15 s) fails the wait instead."""
    data = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return True
        data += chunk


def test_a_complete_request_is_answered(strict):
    sock = _connect(strict)
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    assert sock.recv(65536).startswith(b"HTTP/1.1 200")
    # and then the idle keep-alive connection is closed by the server
    assert _closed_by_server(sock)


def test_headers_that_never_end_are_cut_off(strict):
    sock = _connect(strict)
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
    assert _closed_by_server(sock)


def test_a_stalled_body_is_408(strict):
    sock = _connect(strict)
    sock.sendall(b"POST /v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 b"Authorization: Bearer nope\r\nContent-Length: 100\r\n\r\n{\"kind\": ")
    reply = b""
    while b"\r\n\r\n" not in reply:
        chunk = sock.recv(65536)
        assert chunk, reply
        reply += chunk
    assert reply.startswith((b"HTTP/1.1 408", b"HTTP/1.1 401")), reply


def test_requests_without_a_valid_key_are_limited_per_address(strict):
    with httpx.Client(base_url=strict, timeout=10) as c:
        codes = [c.get("/v1/jobs", headers={"Authorization": f"Bearer cw_bogus{i}"}).status_code for i in range(8)]
    assert codes[0] == 401 and codes[-1] == 429, codes
    assert set(codes) <= {401, 429}


def test_public_certificate_checks_are_rate_limited(strict):
    with httpx.Client(base_url=strict, timeout=10) as c:
        codes = [c.get("/v1/certificates/CW-AAAA-BBBB-CCCC-DDDD/verify").status_code for _ in range(6)]
        assert codes[-1] == 429, codes
        r = c.get("/v1/certificates/CW-AAAA-BBBB-CCCC-DDDD/verify")
        assert r.status_code == 429 and "retry-after" in r.headers
    assert codes[0] == 200


def test_the_limits_leave_keyed_callers_alone(strict, stack):
    key = stack.create_key("read", name="strangers-keyed")
    with httpx.Client(base_url=strict, timeout=10, headers={"Authorization": f"Bearer {key}"}) as c:
        wait_for(lambda: c.get("/v1/jobs").status_code == 200, timeout=10, message="keyed request answered")
        assert all(c.get("/v1/jobs").status_code == 200 for _ in range(10))
