"""A background thread that sends, in one batch, whatever was added while its last batch was in
flight: a busy process makes one round trip for many items instead of one each, in order."""
from __future__ import annotations

import logging
import threading
from typing import Callable, Iterable

log = logging.getLogger(__name__)


class BatchingThread:
    """``add`` never blocks on the round trip; ``send(items)`` runs on this thread, one batch at a
    time, in the order the items were added. A failing ``send`` is logged and the thread goes on."""

    def __init__(self, name: str, send: Callable[[list], None]):
        self.send = send
        self.pending: list = []          # items, and the flush markers among them
        self.cond = threading.Condition()
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)
        self.thread.start()

    def add(self, items: Iterable) -> None:
        with self.cond:
            self.pending.extend(items)
            self.cond.notify()

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until what was added so far has been sent or given up on (at exit; tests)."""
        done = threading.Event()
        self.add([done])
        return done.wait(timeout)

    def _run(self) -> None:
        while True:
            with self.cond:
                while not self.pending:
                    self.cond.wait()
                batch, self.pending = self.pending, []
            items = [item for item in batch if not isinstance(item, threading.Event)]
            try:
                if items:
                    self.send(items)
            except Exception:       # never let the thread die: what it sends has another way out
                log.exception("%s: a batch of %d could not be sent", self.thread.name, len(items))
            for marker in batch:
                if isinstance(marker, threading.Event):
                    marker.set()
