"""Server-sent events (the WHATWG event-stream format), decoded line by line."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Event:
    event: str
    data: str
    id: str | None


KEEPALIVE = object()       # a comment line (the server's keep-alive)


class Decoder:
    """Feed lines (without their line ending); ``feed`` answers an ``Event`` when a blank line ends
    one, ``KEEPALIVE`` for a comment, else ``None``."""

    def __init__(self) -> None:
        self._event, self._data, self._id = "", [], None
        self.last_id: str | None = None

    def feed(self, line: str):
        if line == "":
            if not self._data and not self._event:
                return None
            ev = Event(self._event or "message", "\n".join(self._data), self._id)
            if self._id is not None:
                self.last_id = self._id
            self._event, self._data, self._id = "", [], None
            return ev
        if line.startswith(":"):
            return KEEPALIVE
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "event":
            self._event = value
        elif name == "data":
            self._data.append(value)
        elif name == "id" and "\0" not in value:
            self._id = value
        return None
