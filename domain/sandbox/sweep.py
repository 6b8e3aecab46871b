"""Clean-up: every host process of a slot uid killed and reaped after a run we had to kill,
the worker a child subreaper so that it can reap them, and box folders nobody holds removed.

Why a subreaper: killing bwrap orphans its child ``runner`` (bwrap's ``--new-session`` puts it
in a session of its own). An orphan is reparented to the nearest ancestor that is a child
subreaper, else to PID 1 of the PID namespace. When the worker *is* PID 1 (a container without
an init, ``unshare --pid --fork``), nothing would ever reap it: the zombie keeps counting against
the slot uid's process limit until bwrap can no longer start. As a subreaper the process that
runs the sandbox gets these orphans itself, whatever runs above it, and reaps them here at once
(under a supervisor such as tini it would otherwise wait for the init's next reaping round).
"""
from __future__ import annotations

import ctypes
import fcntl
import os
import shutil
import signal
import time
from dataclasses import dataclass
from pathlib import Path

PR_SET_CHILD_SUBREAPER = 36
_SUBREAPER: set[int] = set()


def become_subreaper() -> bool:
    """Make this process a child subreaper (once per process; a forked child must ask again)."""
    pid = os.getpid()
    if pid not in _SUBREAPER:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
            return False
        _SUBREAPER.add(pid)
    return True


@dataclass(frozen=True)
class Proc:
    pid: int
    ppid: int
    state: str
    name: str


def _status(pid: int) -> dict[bytes, bytes] | None:
    try:
        with open(f"/proc/{pid}/status", "rb") as f:
            text = f.read()
    except OSError:
        return None
    fields = {}
    for line in text.splitlines():
        key, _, value = line.partition(b":")
        fields[key] = value.strip()
    return fields


def uid_processes(uid: int) -> list[Proc]:
    """Every host process whose real, effective, saved or fs uid is ``uid`` (zombies included)."""
    found = []
    wanted = str(uid).encode()
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        fields = _status(int(entry.name))
        if fields is None or wanted not in fields.get(b"Uid", b"").split():
            continue
        found.append(Proc(pid=int(entry.name), ppid=int(fields.get(b"PPid", b"0")),
                          state=fields.get(b"State", b"?")[:1].decode(), name=fields.get(b"Name", b"").decode()))
    return found


def _uid_processes(uid: int) -> list[int]:
    return [p.pid for p in uid_processes(uid)]


def _reap(proc: Proc) -> None:
    """Collect a zombie of ours (a reparented ``runner``): no other process can."""
    if proc.state == "Z" and proc.ppid == os.getpid():
        try:
            os.waitpid(proc.pid, os.WNOHANG)
        except ChildProcessError:
            pass


def kill_uid(uid: int, timeout: float = 5.0) -> None:
    """SIGKILL every host process of a slot uid and wait until they are gone (zombies included),
    reaping those that were reparented to this process.

    The namespace dies with bwrap, but asynchronously; the slot is reused only once it is empty.
    """
    deadline = time.monotonic() + timeout
    pause = 0.0005
    while True:
        procs = uid_processes(uid)
        if not procs or time.monotonic() >= deadline:
            return
        for proc in procs:
            if proc.state == "Z":
                _reap(proc)
                continue
            try:   # through a pidfd, re-checked, so a recycled pid is never hit
                fd = os.pidfd_open(proc.pid)
            except OSError:
                continue
            try:
                if _status(proc.pid) is not None and proc.pid in _uid_processes_of([proc.pid], uid):
                    signal.pidfd_send_signal(fd, signal.SIGKILL)
            except OSError:
                pass
            finally:
                os.close(fd)
        time.sleep(pause)
        pause = min(pause * 2, 0.01)


def _uid_processes_of(candidates, uid: int) -> list[int]:
    wanted = str(uid).encode()
    return [pid for pid in candidates if wanted in ((_status(pid) or {}).get(b"Uid", b"")).split()]


# ----------------------------------------------------------------------------- box folders

def box_name(slot: int) -> str:
    """The prefix of a box folder: its slot's number, so that a sweep can tell whose it is."""
    return f"box-s{slot}-"


def _slot_of(name: str) -> int | None:
    if not name.startswith("box-s"):
        return None
    number, sep, _ = name[5:].partition("-")
    return int(number) if sep and number.isdigit() else None


def sweep_boxes(work_dir: Path, older_than: float, now: float | None = None) -> list[str]:
    """Remove box folders left behind (a worker killed mid-case): a box whose slot nobody holds,
    or one older than ``older_than`` seconds that is not the box its slot's holder is using.
    Returns the names removed."""
    now = time.time() if now is None else now
    removed = []
    try:
        entries = list(os.scandir(work_dir))
    except FileNotFoundError:
        return removed
    for entry in entries:
        slot = _slot_of(entry.name)
        if slot is None and not entry.name.startswith("box-"):
            continue
        try:
            age = now - entry.stat(follow_symlinks=False).st_mtime
        except FileNotFoundError:
            continue
        lock = work_dir / "slots" / f"slot-{slot}.lock"
        if slot is not None and lock.exists() and _free(lock):
            pass   # nobody holds its slot (we held the lock while checking)
        elif age < older_than or _in_use(lock, entry.name):
            continue
        shutil.rmtree(entry.path, ignore_errors=True)
        removed.append(entry.name)
    return removed


def _free(lock: Path) -> bool:
    try:
        fd = os.open(lock, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)   # releases the lock too
    return True


def _in_use(lock: Path, name: str) -> bool:
    try:
        return lock.read_text().strip() == name
    except OSError:
        return False


@dataclass(frozen=True)
class SlotReport:
    slot: int
    uid: int
    in_use: bool              # a run holds the slot now: its processes are expected
    processes: list[Proc]

    @property
    def leftover(self) -> bool:
        """Processes of a slot nobody holds: they outlived their case."""
        return bool(self.processes) and not self.in_use


def slot_reports(work_dir: Path, base_uid: int, count: int) -> list[SlotReport]:
    """For every slot: whether a run holds it, and the host processes of its uid."""
    reports = []
    for n in range(count):
        lock = work_dir / "slots" / f"slot-{n}.lock"
        in_use = lock.exists() and not _free(lock)
        reports.append(SlotReport(slot=n, uid=base_uid + n, in_use=in_use, processes=uid_processes(base_uid + n)))
    return reports
