"""The sandbox: run one untrusted command under bubblewrap with rlimits, a wall clock and an
output budget, and report what happened (exit, signal, CPU time, peak memory, output).

Isolation (bubblewrap, ``bwrap``): new user, PID, network, IPC, UTS and cgroup namespaces
(``--unshare-all``; the network namespace has only a loopback of its own), no nested user
namespaces (``--disable-userns``), a read-only bind of ``/usr`` (with the usual ``/bin``,
``/lib``, ``/lib64`` symlinks) and nothing else of the host file system: no ``/etc``, no
``/home``, no project directory. The program's own folder is bound at ``/box`` (read-only
when running, writable when compiling); ``/tmp`` is a fresh tmpfs of bounded size and the
working directory. ``/proc`` is a fresh procfs of the new PID namespace, so only the
sandbox's own processes are visible. The environment is rebuilt from scratch (``--clearenv``
and a scrubbed environment for bwrap itself, whose ``/proc/1/environ`` the program could
read). Inside, the program runs as uid/gid 65534 in a new session, as the only child of
``measure`` (``measure.c``, PID 1 of the namespace via ``--as-pid-1``), which reports the
program's own CPU time and peak RSS (a forked worker's RSS survives exec, so ``wait4`` from
out here would report the worker's size). When ``measure`` exits, the kernel kills whatever
is left in the PID namespace (daemons included); signals from inside cannot reach it.

Outside, ``launch`` (``launch.c``, exec'd straight from the worker so Python can vfork) starts a
new session, sets the rlimits and drops to a per-run *slot* uid before exec'ing bwrap (see
``slots.py``): ``RLIMIT_NPROC`` only counts for a non-root user, and a uid of
its own per concurrent run means one fork bomb cannot starve a neighbour's threads.
Limits (setrlimit in ``launch``, inherited by all): CPU seconds, address space, processes, file
size, open files, no core files. A wall clock kills the whole process group; when bwrap's
PID 1 dies the kernel kills everything left in the PID namespace (daemons included).

``start`` sets a sandbox up and leaves ``measure`` waiting on a "go" pipe; ``Prepared.finish``
says go and collects the run (``run`` does both). The judge prepares the next test case's
sandbox while the current case runs, so bwrap's set-up overlaps a run instead of adding to it.
"""
from __future__ import annotations

import math
import os
import select
import selectors
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from domain.sandbox.errors import ProgramNotStarted, SandboxUnavailable  # noqa: F401  (re-exported)
from domain.sandbox.helpers import Helpers
from domain.sandbox.slots import Slot
from domain.sandbox.sweep import kill_uid

SANDBOX_UID = 65534
PATH = "/usr/local/bin:/usr/bin:/bin"


@dataclass(frozen=True)
class Limits:
    cpu_seconds: float = 2.0
    wall_seconds: float = 5.0
    memory_bytes: int = 256 * 1024 * 1024   # the verdict threshold (peak resident memory)
    address_space_bytes: int | None = None  # RLIMIT_AS; None = memory_bytes
    processes: int = 64                     # RLIMIT_NPROC (threads count too)
    file_bytes: int = 16 * 1024 * 1024      # RLIMIT_FSIZE and the /tmp tmpfs size
    open_files: int = 64
    output_bytes: int = 1_000_000           # stdout budget; stderr keeps a tail of 64 KiB


@dataclass
class RunResult:
    exit_code: int | None          # the program's exit status when it exited by itself
    signal: int | None             # the signal that ended it (bwrap reports 128+n)
    cpu_seconds: float
    wall_seconds: float
    max_rss_bytes: int
    stdout: bytes
    stderr: bytes
    timed_out: bool = False        # killed by the wall clock
    output_exceeded: bool = False  # killed for writing more than the output budget
    cpu_exceeded: bool = False
    extra: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not (self.timed_out or self.output_exceeded or self.cpu_exceeded)


STDERR_KEEP = 64 * 1024


MEASURE_PATH = "/sandbox/measure"


def _root_links() -> list[str]:
    """bwrap arguments for /bin, /lib, /lib64, /sbin: symlinks into /usr when the host has them."""
    args = []
    for name in ("bin", "lib", "lib64", "sbin"):
        target = os.readlink(f"/{name}") if os.path.islink(f"/{name}") else None
        if target is not None:
            args += ["--symlink", target, f"/{name}"]
        elif os.path.isdir(f"/{name}"):
            args += ["--ro-bind", f"/{name}", f"/{name}"]
    return args


_ROOT_LINKS = _root_links()   # the host's layout does not change while a worker runs


def bwrap_argv(box: Path, argv: list[str], limits: Limits, *, writable_box: bool, helper: Path, report_fd: int,
               env: dict[str, str] | None = None, bwrap: str = "bwrap", go_fd: int = -1) -> list[str]:
    cmd = [bwrap, "--unshare-all", "--unshare-user", "--disable-userns", "--die-with-parent", "--new-session",
           "--as-pid-1", "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID), "--hostname", "sandbox",
           "--ro-bind", "/usr", "/usr", *_ROOT_LINKS,
           "--proc", "/proc", "--dev", "/dev",
           "--size", str(limits.file_bytes), "--tmpfs", "/tmp",
           "--bind" if writable_box else "--ro-bind", str(box), "/box",
           "--ro-bind", str(helper), MEASURE_PATH,
           "--chdir", "/box" if writable_box else "/tmp", "--clearenv"]
    for key, value in {"PATH": PATH, "HOME": "/tmp", "LANG": "C.UTF-8", "TMPDIR": "/tmp", **(env or {})}.items():
        cmd += ["--setenv", key, value]
    return [*cmd, "--", MEASURE_PATH, str(report_fd), str(go_fd), *argv]


def _launch_argv(helpers: Helpers, limits: Limits, uid: int | None) -> list[str]:
    cpu = max(1, math.ceil(limits.cpu_seconds))   # SIGXCPU; the verdict compares the measured time
    address_space = limits.address_space_bytes or limits.memory_bytes
    return [str(helpers.launch), str(-1 if uid is None else uid), str(cpu), str(address_space),
            str(limits.processes), str(limits.file_bytes), str(limits.open_files)]


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


_FOUND: dict[str, str] = {}


def _which(bwrap: str) -> str | None:
    """shutil.which, remembered once found (a PATH search per test case is measurable)."""
    if bwrap not in _FOUND:
        path = shutil.which(bwrap)
        if path is None:
            return None
        _FOUND[bwrap] = path
    return _FOUND[bwrap]


def run(box: Path, argv: list[str], limits: Limits, slot: Slot, helpers: Helpers, *, stdin: bytes = b"",
        writable_box: bool = False, env: dict[str, str] | None = None, bwrap: str = "bwrap") -> RunResult:
    """Run ``argv`` inside the sandbox with ``box`` mounted at /box. Blocks until it is over."""
    return start(box, argv, limits, slot, helpers, stdin=stdin, writable_box=writable_box, env=env,
                 bwrap=bwrap).finish()


def start(box: Path, argv: list[str], limits: Limits, slot: Slot, helpers: Helpers, *, stdin: bytes = b"",
          writable_box: bool = False, env: dict[str, str] | None = None, bwrap: str = "bwrap") -> "Prepared":
    """Set a sandbox up for ``argv`` and leave it waiting: ``measure`` runs the program only once
    ``finish()`` says go. A judge prepares the next test case's sandbox (namespaces, mounts: a
    brand-new one for every case) while the current case runs, so the set-up overlaps the run."""
    path = _which(bwrap)
    if path is None:
        raise SandboxUnavailable(f"{bwrap!r} is not installed (apt-get install bubblewrap)")
    status_r, status_w = os.pipe()   # bwrap writes {"exit-code": n} there once the program has run
    report_r, report_w = os.pipe()   # measure writes the program's own rusage there
    go_r, go_w = os.pipe()           # one byte: run the program now
    cmd = bwrap_argv(box, argv, limits, writable_box=writable_box, helper=helpers.measure, report_fd=report_w,
                     env=env, bwrap=path, go_fd=go_r)
    cmd[1:1] = ["--json-status-fd", str(status_w)]
    cmd = _launch_argv(helpers, limits, slot.uid) + cmd
    try:
        with tempfile.TemporaryFile() as stdin_file:
            stdin_file.write(stdin)
            stdin_file.seek(0)
            proc = subprocess.Popen(cmd, stdin=stdin_file, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    env={"PATH": PATH}, cwd="/", close_fds=True,
                                    pass_fds=(status_w, report_w, go_r))
    except BaseException:
        for fd in (status_r, report_r, go_w):
            os.close(fd)
        raise
    finally:
        for fd in (status_w, report_w, go_r):
            os.close(fd)
    return Prepared(proc, limits, slot, status_r, report_r, go_w)


class Prepared:
    """A sandbox set up (or being set up) by ``start``: ``finish()`` runs the program and waits for
    the result; ``abort()`` ends it without running anything (measure exits on end-of-file)."""

    def __init__(self, proc: subprocess.Popen, limits: Limits, slot: Slot, status_r: int, report_r: int,
                 go_w: int):
        self.proc, self.limits, self.slot = proc, limits, slot
        self._status_r, self._report_r, self._go_w = status_r, report_r, go_w

    def abort(self) -> None:
        os.close(self._go_w)   # measure reads end-of-file and exits: nothing ran
        self.proc.stdout.close()
        self.proc.stderr.close()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            _kill_group(self.proc.pid)
            self.proc.wait()
            if self.slot.uid is not None:
                kill_uid(self.slot.uid)
        os.close(self._status_r)
        os.close(self._report_r)

    def finish(self) -> RunResult:
        proc, limits, slot = self.proc, self.limits, self.slot
        started = time.monotonic()
        try:
            os.write(self._go_w, b"g")
        except BrokenPipeError:   # bwrap failed to set up (the reason is on its stderr, read below)
            pass
        finally:
            os.close(self._go_w)
        out, err, timed_out, exceeded = _collect(proc, started + limits.wall_seconds, limits.output_bytes)
        status, usage = _reap(proc, started + limits.wall_seconds)
        timed_out = timed_out or status is None
        if status is None:
            _kill_group(proc.pid)
            _, status, usage = os.wait4(proc.pid, 0)
        if timed_out or exceeded:   # (no killpg after the reap above: that pid may belong to someone else now)
            if slot.uid is not None:
                # bwrap died by our SIGKILL: its namespace is torn down asynchronously. (When the
                # program exits by itself, PID 1's exit already waited for every process in it.)
                kill_uid(slot.uid)
        proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.monotonic() - started
        with os.fdopen(self._report_r, "rb") as report_file:
            report = report_file.read(200).split()
        with os.fdopen(self._status_r, "rb") as status_file:
            ran = b'"exit-code"' in status_file.read()
        if len(report) == 2 and report[0] == b"exec-failed":   # the program never started
            raise ProgramNotStarted(os.strerror(int(report[1])))
        if len(report) == 4:   # the program's own status and usage, measured by its parent inside
            program_status, utime, stime, maxrss = (int(x) for x in report)
            code = os.waitstatus_to_exitcode(program_status)
            cpu, rss = (utime + stime) / 1e6, maxrss * 1024
        else:                  # killed before it could report (wall clock / output budget)
            code = proc.returncode
            cpu, rss = usage.ru_utime + usage.ru_stime, 0
        sig = -code if code < 0 else (code - 128 if code > 128 else None)
        result = RunResult(exit_code=None if sig else code, signal=sig, cpu_seconds=cpu, wall_seconds=wall,
                           max_rss_bytes=rss, stdout=out, stderr=err, timed_out=timed_out,
                           output_exceeded=exceeded)
        result.cpu_exceeded = cpu > limits.cpu_seconds or sig == signal.SIGXCPU
        if not ran and not (timed_out or exceeded):   # bwrap could not set the sandbox up
            raise SandboxUnavailable(err.decode(errors="replace")[-500:] or f"bwrap exited with {code}")
        return result


def _collect(proc: subprocess.Popen, deadline: float, budget: int) -> tuple[bytes, bytes, bool, bool]:
    """Read stdout/stderr until both close, the deadline passes, or stdout exceeds its budget."""
    out, err = bytearray(), bytearray()
    timed_out = exceeded = False
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ, out)
    sel.register(proc.stderr, selectors.EVENT_READ, err)
    try:
        while sel.get_map():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                timed_out = True
                break
            for key, _ in sel.select(remaining):
                chunk = os.read(key.fd, 65536)
                if not chunk:
                    sel.unregister(key.fileobj)
                    continue
                buf = key.data
                buf += chunk
                if buf is out and len(out) > budget:
                    exceeded = True
                    del out[budget:]
                elif buf is err and len(err) > 2 * STDERR_KEEP:
                    del err[:-STDERR_KEEP]
            if exceeded:
                break
    finally:
        sel.close()
        if timed_out or exceeded:
            _kill_group(proc.pid)
        proc.stdout.close()
        proc.stderr.close()
    return bytes(out), bytes(err[-STDERR_KEEP:]), timed_out, exceeded


def _reap(proc: subprocess.Popen, deadline: float):
    """wait4 with a deadline (a pidfd says when it exited); (None, None) if still running."""
    try:
        pidfd = os.pidfd_open(proc.pid)
    except (AttributeError, OSError):
        pidfd = None
    try:
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                return status, usage
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None, None
            if pidfd is not None:
                poller = select.poll()
                poller.register(pidfd, select.POLLIN)
                poller.poll(remaining * 1000)
            else:
                time.sleep(0.002)
    finally:
        if pidfd is not None:
            os.close(pidfd)
