"""How intake is served: uvicorn with deadlines a slow client cannot stretch.

uvicorn closes idle keep-alive connections (``timeout_keep_alive``) but has no deadline for a
request's headers or body, so a client sending one byte every few seconds holds a connection
(and, with a body, a request) forever. ``Protocol`` closes a connection whose request line
and headers are not complete ``http_header_timeout`` seconds after it opened or after its previous
response; ``BodyDeadline`` answers 408 when a body pauses longer than ``http_body_timeout``.
"""
from __future__ import annotations

import asyncio
import json

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from celeryconfig import settings


class _HeaderDeadline:
    """Mixin over a uvicorn HTTP protocol: a connection must deliver each request's line and
    headers within ``header_timeout`` of opening or of its previous response, or it is closed."""

    header_timeout = settings.http_header_timeout
    _header_task = None

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        self._arm()

    def _arm(self) -> None:
        self._disarm()
        self._header_task = self.loop.call_later(self.header_timeout, self._expired)

    def _disarm(self) -> None:
        if self._header_task is not None:
            self._header_task.cancel()
            self._header_task = None

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm()

    def connection_lost(self, exc) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _expired(self) -> None:
        self._header_task = None
        if not self.transport.is_closing():
            self.transport.close()


class H11WithDeadline(_HeaderDeadline, H11Protocol):
    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:     # the request line and headers are in
            self._disarm()


try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    class HttpToolsWithDeadline(_HeaderDeadline, HttpToolsProtocol):
        def on_headers_complete(self) -> None:
            self._disarm()
            super().on_headers_complete()

    Protocol: type = HttpToolsWithDeadline      # what uvicorn's "auto" would pick: the faster parser
except ImportError:    # httptools missing: the pure-Python parser
    Protocol = H11WithDeadline


class BodyDeadline:
    """ASGI middleware: 408 when the client pauses longer than ``seconds`` inside a request body."""

    def __init__(self, app, seconds: float):
        self.app, self.seconds = app, seconds

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or self.seconds <= 0:
            return await self.app(scope, receive, send)
        started = False
        body_done = False

        async def send_tracking(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        async def timed_receive():
            nonlocal body_done
            if body_done:       # e.g. a streaming response waiting for the disconnect: no deadline
                return await receive()
            try:
                async with asyncio.timeout(self.seconds):     # no extra task per receive, unlike wait_for
                    message = await receive()
            except TimeoutError:
                raise _BodyTimeout() from None
            if message["type"] != "http.request" or not message.get("more_body", False):
                body_done = True
            return message

        try:
            await self.app(scope, timed_receive, send_tracking)
        except _BodyTimeout:
            if not started:
                body = json.dumps({"error": {"code": "request_timeout", "message": "the request body stalled",
                                             "details": []}}).encode()
                await send({"type": "http.response.start", "status": 408,
                            "headers": [(b"content-type", b"application/json"), (b"connection", b"close"),
                                        (b"content-length", str(len(body)).encode())]})
                await send({"type": "http.response.body", "body": body})


class _BodyTimeout(Exception):
    pass

