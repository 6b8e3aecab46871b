"""One instance per process of a background service (a thread and its state), made on first use.

A forked child (a prefork worker process) gets its own: its parent's threads do not run in it.
"""
from __future__ import annotations

import os
import threading
from typing import Callable, Generic, TypeVar

T = TypeVar("T")


class PerProcess(Generic[T]):
    """``PerProcess(make)()`` is this process's ``make()``."""

    def __init__(self, make: Callable[[], T]):
        self.make = make
        self.lock = threading.Lock()
        self.pid: int | None = None
        self.obj: T | None = None

    def __call__(self) -> T:
        if self.pid != os.getpid():
            with self.lock:
                if self.pid != os.getpid():
                    self.obj, self.pid = self.make(), os.getpid()    # obj first: pid says it is ready
        return self.obj

    def reset(self) -> None:
        """Make a new one on next use (as after a fork), for a process whose settings changed."""
        with self.lock:
            self.pid = None
