"""A tiny server-sent-events reader for the tutor stream (event, data, id)."""
from __future__ import annotations

import json
import time

import httpx


def read(client: httpx.Client, url: str, headers: dict | None = None, limit: int = 10_000,
         timeout: float = 60.0) -> tuple[int, list[tuple[str, dict, str | None]], float | None]:
    """Follow ``url`` until a done/error event; returns (status, events, seconds to the first token)."""
    started = time.monotonic()
    first = None
    events: list[tuple[str, dict, str | None]] = []
    with client.stream("GET", url, headers=headers or {}, timeout=timeout) as r:
        if r.status_code != 200:
            r.read()
            return r.status_code, [("http_error", r.json(), None)], None
        event, data, eid = "message", [], None
        for line in r.iter_lines():
            if line == "":
                if data:
                    events.append((event, json.loads("\n".join(data)), eid))
                    if event == "token" and first is None:
                        first = time.monotonic() - started
                    if event in ("done", "error") or len(events) >= limit:
                        break
                event, data, eid = "message", [], None
            elif line.startswith("event:"):
                event = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].lstrip())
            elif line.startswith("id:"):
                eid = line[3:].strip()
    return 200, events, first


def text_of(events) -> str:
    text = ""
    for kind, data, _ in events:
        if kind in ("start", "reset"):
            text = ""
        elif kind == "token":
            text += data["text"]
    return text
