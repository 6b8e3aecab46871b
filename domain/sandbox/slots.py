"""Run slots: one host uid per concurrent sandbox run, claimed with an advisory file lock.

``RLIMIT_NPROC`` counts every process and thread of a uid on the whole host, and it is not
enforced for root. A worker running as root therefore drops to ``base_uid + n`` for the run,
where slot ``n`` is held with ``flock`` by this process only (a crashed worker releases its
lock with its file descriptors). A non-root worker cannot switch uids: it runs bwrap as
itself (``uid=None``) and the process limit then counts the worker's own processes too.

The slot count bounds the runs of a host at once; by default it is the number of cores this
worker may use (its CPU affinity, and a cgroup CPU quota when one is set), so each run has a
core of its own and its wall clock (CPU limit x wall factor + 1 s) measures its own work, not
its neighbours'. More worker processes than slots simply wait for a slot.
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
    lock: Path | None = None


def mark(slot: Slot, box: str) -> None:
    """Write the box the slot's holder is using into its lock file (read by the box sweep)."""
    if slot.lock is not None:
        slot.lock.write_text(box)


def _quota_cores() -> float | None:
    """A cgroup CPU quota on this process, in cores (v2 ``cpu.max``, v1 ``cpu.cfs_quota_us``)."""
    for path, parse in (("/sys/fs/cgroup/cpu.max", lambda t: t.split()),
                        ("/sys/fs/cgroup/cpu/cpu.cfs_quota_us", None)):
        try:
            text = Path(path).read_text()
            if parse:
                quota, period = parse(text)
            else:
                quota, period = text.strip(), Path("/sys/fs/cgroup/cpu/cpu.cfs_period_us").read_text().strip()
            if quota not in ("max", "-1"):
                return int(quota) / int(period)
        except (OSError, ValueError):
            continue
    return None


def usable_cores() -> int:
    """The cores this process may run on: its CPU affinity, capped by a cgroup quota."""
    cores = len(os.sched_getaffinity(0))
    quota = _quota_cores()
    if quota is not None:
        cores = min(cores, max(1, int(quota)))
    return max(1, cores)


class NoFreeSlot(RuntimeError):
    pass


def try_lock(path: Path) -> int | None:
    """An open descriptor holding ``path``'s exclusive lock, or None if another process holds it.
    The lock lasts until the descriptor is closed (or its process ends)."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


@contextmanager
def claim(lock_dir: Path, base_uid: int, count: int, wait_seconds: float = 30.0) -> Iterator[Slot]:
    if os.geteuid() != 0:
        yield Slot(number=0, uid=None)
        return
    lock_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    deadline = time.monotonic() + wait_seconds
    while True:
        for n in range(count):
            fd = try_lock(lock_dir / f"slot-{n}.lock")
            if fd is None:
                continue
            try:
                yield Slot(number=n, uid=base_uid + n, lock=lock_dir / f"slot-{n}.lock")
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
                os.close(fd)
            return
        if time.monotonic() >= deadline:
            raise NoFreeSlot(f"all {count} sandbox slots in {lock_dir} are busy")
        time.sleep(0.05)
