"""Kill every host process of a slot uid and wait until none is left (used after a run we
had to kill: its PID namespace is then torn down asynchronously)."""
from __future__ import annotations

import os
import signal
import time


def _uid_processes(uid: int) -> list[int]:
    return _uid_processes_of((int(e.name) for e in os.scandir("/proc") if e.name.isdigit()), uid)


def _uid_processes_of(candidates, uid: int) -> list[int]:
    pids = []
    for pid in candidates:
        try:
            with open(f"/proc/{pid}/status", "rb") as f:
                status = f.read()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith(b"Uid:"):
                if str(uid).encode() in line.split()[1:]:
                    pids.append(pid)
                break
    return pids


def kill_uid(uid: int, timeout: float = 5.0) -> None:
    """SIGKILL every host process of a slot uid and wait until they are gone (zombies included).

    The namespace dies with bwrap, but asynchronously; the slot is reused only once it is empty.
    """
    deadline = time.monotonic() + timeout
    while True:
        pids = _uid_processes(uid)
        if not pids or time.monotonic() >= deadline:
            return
        for pid in pids:
            try:   # through a pidfd, re-checked, so a recycled pid is never hit
                fd = os.pidfd_open(pid)
            except OSError:
                continue
            try:
                if pid in _uid_processes_of([pid], uid):
                    signal.pidfd_send_signal(fd, signal.SIGKILL)
            except OSError:
                pass
            finally:
                os.close(fd)
        time.sleep(0.005)
