"""Run slots: one host uid per concurrent sandbox run, claimed with an advisory file lock.

``RLIMIT_NPROC`` counts every process and thread of a uid on the whole host, and it is not
enforced for root. A worker running as root therefore drops to ``base_uid + n`` for the run,
where slot ``n`` is held with ``flock`` by this process only (a crashed worker releases its
lock with its file descriptors). A non-root worker cannot switch uids: it runs bwrap as
itself (``uid=None``) and the process limit then counts the worker's own processes too.
"""
from __future__ import annotations

import fcntl
import os
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator


@dataclass(frozen=True)
class Slot:
    number: int
    uid: int | None       # host uid to switch to before exec'ing bwrap; None: stay as we are


class NoFreeSlot(RuntimeError):
    pass


@contextmanager
def claim(lock_dir: Path, base_uid: int, count: int, wait_seconds: float = 30.0) -> Iterator[Slot]:
    if os.geteuid() != 0:
        yield Slot(number=0, uid=None)
        return
    lock_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    deadline = time.monotonic() + wait_seconds
    while True:
        for n in range(count):
            fd = os.open(lock_dir / f"slot-{n}.lock", os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            try:
                yield Slot(number=n, uid=base_uid + n)
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
                os.close(fd)
            return
        if time.monotonic() >= deadline:
            raise NoFreeSlot(f"all {count} sandbox slots in {lock_dir} are busy")
        time.sleep(0.05)
