"""Refuse, before any route runs, URLs that no route can answer sensibly.

A NUL or another control character in the path (``/v1/jobs/%00``) is 404: no resource has such a
name, and PostgreSQL refuses NUL in a query parameter (which would surface as a 500). The same
characters percent-encoded in the query string are 422. Pure ASGI: nothing else is read.
"""
from __future__ import annotations

import json
import re

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_ENCODED_CONTROL = re.compile(rb"%(?:[01][0-9a-fA-F]|7[fF])|[\x00-\x1f\x7f]")


class UrlGuard:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            if _CONTROL.search(scope.get("path", "")):
                return await _reply(send, 404, "not_found", "no such resource", "path")
            if _ENCODED_CONTROL.search(scope.get("query_string", b"")):
                return await _reply(send, 422, "validation_error", "the query string holds control characters",
                                    "query")
        return await self.app(scope, receive, send)


async def _reply(send, status: int, code: str, message: str, field: str) -> None:
    body = json.dumps({"error": {"code": code, "message": message,
                                 "details": [{"field": field, "message": "control characters are not allowed"}]}}
                      ).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
