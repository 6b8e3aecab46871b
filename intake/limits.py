"""Request body size limit as pure ASGI middleware: 413 before the body is read into memory."""
from __future__ import annotations

import json


class BodySizeLimit:
    def __init__(self, app, max_bytes: int, exempt_prefixes: tuple[str, ...] = ()):
        self.app, self.max_bytes, self.exempt = app, max_bytes, exempt_prefixes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope.get("path", "").startswith(self.exempt):
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_bytes:
            return await self._reject(send)
        seen = 0

        async def limited_receive():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise _TooLarge()
            return message

        try:
            await self.app(scope, limited_receive, send)
        except _TooLarge:
            await self._reject(send)

    async def _reject(self, send):
        body = json.dumps({"error": {"code": "payload_too_large",
                                     "message": f"the request body is larger than {self.max_bytes} bytes",
                                     "details": []}}).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


class _TooLarge(Exception):
    pass
