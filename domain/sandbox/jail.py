"""The sandbox: run an untrusted program's test cases under bubblewrap with rlimits, a wall
clock and an output budget, and report what happened (exit, signal, CPU time, peak memory, output).

One ``Session`` per submission (and one for its compile step): ``launch`` (``launch.c``, exec'd
straight from the worker so Python can vfork) starts a new session, sets outer rlimits and drops to
a per-run *slot* uid (see ``slots.py``: ``RLIMIT_NPROC`` only counts for a non-root user, and a uid
of its own per concurrent run means one fork bomb cannot starve a neighbour's threads), then execs
bwrap. bwrap builds the file system view once: a read-only bind of ``/usr`` (with the usual
``/bin``, ``/lib``, ``/lib64`` symlinks) and nothing else of the host: no ``/etc``, no ``/home``,
no project directory; the program's folder at ``/box`` (read-only when running, writable when
compiling); a minimal ``/dev``; the root and ``/dev`` remounted read-only. The environment is
rebuilt from scratch (``--clearenv``, and a scrubbed environment for bwrap itself). bwrap's own
user, PID, network, IPC, UTS and cgroup namespaces hold ``runner`` (``runner.c``) as PID 1.

For every test case the worker sends ``runner`` the case's limits and its stdin/stdout/stderr
over a socket; ``runner`` gives the case brand-new namespaces nested in bwrap's: user (the
program is uid/gid 65534 there, loses every capability at exec, and can create no further user
namespace), mount (a fresh tmpfs ``/tmp``, its working directory, and ``/dev/shm``, both of
bounded size; a fresh ``/proc`` showing only the case's processes), PID, network (its own
loopback: the host's Redis, PostgreSQL, 169.254.169.254 are unreachable), IPC and UTS. So nothing
a case does reaches the next one, as if each had a bwrap of its own, for one clone and three
mounts instead of three execs (launch, bwrap, a helper) and bwrap's namespace and mount set-up.
The program runs in a session of its own with its rlimits (CPU seconds, address space,
processes, file size, open files, no core files) as the only child of the case's init, which
reports the program's own CPU time and peak RSS (a forked worker's RSS survives exec, so
``wait4`` from out here would report the worker's size). When that init exits, the kernel kills
whatever is left in the case's PID namespace (daemons included) and the reply comes only then.
The case's init also watches the whole process tree while it runs (``runner.c``), and where the
host allows, the slot's cgroup holds the tree too (``cgroups.py``). Signals from inside cannot
reach anything outside the case. A wall clock or an exhausted output budget kills the whole
sandbox (bwrap's process group, then every process of the slot uid); the next case gets a new
``Session``.

Zombies: the process that runs sessions makes itself a child subreaper, so a ``runner`` orphaned
by the kill of its bwrap is reparented to it (not to PID 1 of the worker's PID namespace, which in
a container may be the worker itself and never reap it) and the sweep reaps it at once.

``bwrap.py`` builds the command line that starts a sandbox; ``wire.py`` reads a case's output
and ``runner``'s reply.
"""
from __future__ import annotations

import math
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from domain.sandbox.bwrap import PATH, bwrap_argv, launch_argv, which
from domain.sandbox.cgroups import SlotGroup
from domain.sandbox.errors import ProgramNotStarted, SandboxUnavailable  # noqa: F401  (re-exported)
from domain.sandbox.helpers import Helpers
from domain.sandbox.slots import Slot
from domain.sandbox.sweep import become_subreaper, kill_uid
from domain.sandbox.wire import collect, write_all
from domain.sandbox.wire import reply as wire_reply

@dataclass(frozen=True)
class Limits:
    cpu_seconds: float = 2.0
    wall_seconds: float = 5.0
    memory_bytes: int = 256 * 1024 * 1024   # the verdict threshold (peak resident memory)
    address_space_bytes: int | None = None  # RLIMIT_AS; None = memory_bytes
    processes: int = 64                     # RLIMIT_NPROC (threads count too)
    file_bytes: int = 16 * 1024 * 1024      # RLIMIT_FSIZE and the /tmp tmpfs size
    tmp_inodes: int = 4096                  # files + folders in /tmp (and in /dev/shm)
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
    cpu_exceeded: bool = False     # the case's processes together used more CPU time than the limit
    memory_exceeded: bool = False  # the kernel's OOM killer acted for the case's cgroup, or (no cgroup)
    #                                the case's processes together held more resident memory than the limit
    file_limit: bool = False       # a file reached the size limit, or /tmp or /dev/shm filled up
    extra: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not (self.timed_out or self.output_exceeded or self.cpu_exceeded)


def _request(limits: Limits, tree_memory: bool) -> bytes:
    """The case's limits for runner (see runner.c); ``tree_memory``: runner enforces the memory
    limit on the tree itself (no cgroup does)."""
    cpu_ms = max(1, math.ceil(limits.cpu_seconds * 1000))
    address_space = limits.address_space_bytes or limits.memory_bytes
    wall_ms = max(1, math.ceil(limits.wall_seconds * 1000))
    return (f"{cpu_ms} {address_space} {limits.processes} {limits.file_bytes} {limits.open_files} "
            f"{limits.file_bytes} {limits.tmp_inodes} {limits.memory_bytes if tree_memory else 0} {wall_ms}").encode()


OUTER_FACTOR, OUTER_GRACE = 3.0, 5.0


def outer_deadline(wall_seconds: float) -> float:
    """Seconds after which the worker kills a case whatever runner says. runner stops the program
    at its own wall clock, which leaves out time it waited for a CPU (see runner.c); this outer
    clock is for a host so loaded that the program never gets its share, or a runner that hangs."""
    return wall_seconds * OUTER_FACTOR + OUTER_GRACE


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def run(box: Path, argv: list[str], limits: Limits, slot: Slot, helpers: Helpers, *, stdin: bytes = b"",
        writable_box: bool = False, env: dict[str, str] | None = None, bwrap: str = "bwrap",
        group: SlotGroup | None = None) -> RunResult:
    """Run ``argv`` once inside a sandbox of its own with ``box`` mounted at /box. Blocks until it is over."""
    with Session(box, argv, slot, helpers, writable_box=writable_box, env=env, bwrap=bwrap,
                 processes=limits.processes, group=group) as session:
        return session.run(stdin, limits)


class Session:
    """One bwrap sandbox for ``argv`` (one submission's program), running test cases one after
    the other, each in namespaces of its own (see the module docstring). ``run`` one case;
    after a case we had to kill (wall clock, output budget) the session is over (``alive`` is
    False) and the caller starts a new one. ``close`` (or the ``with`` block) ends it."""

    def __init__(self, box: Path, argv: list[str], slot: Slot, helpers: Helpers, *, writable_box: bool = False,
                 env: dict[str, str] | None = None, bwrap: str = "bwrap", processes: int = 64,
                 group: SlotGroup | None = None):
        path = which(bwrap)
        if path is None:
            raise SandboxUnavailable(f"{bwrap!r} is not installed (apt-get install bubblewrap)")
        become_subreaper()
        self.slot, self.group = slot, group
        self._ctl, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        cmd = launch_argv(helpers, processes, slot.uid, group) + bwrap_argv(
            box, argv, writable_box=writable_box, runner=helpers.runner, ctl_fd=theirs.fileno(), env=env, bwrap=path)
        try:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                         stderr=subprocess.PIPE, env={"PATH": PATH}, cwd="/", close_fds=True,
                                         pass_fds=(theirs.fileno(),))
        except BaseException:
            self._ctl.close()
            raise
        finally:
            theirs.close()
        self.alive = True

    def __enter__(self) -> "Session":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """End-of-file on the control socket: runner exits, and bwrap with it."""
        if self._ctl.fileno() >= 0:
            self._ctl.close()
        if self.proc.returncode is None:
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._kill()
        self.proc.stderr.close()
        self.alive = False

    def _kill(self) -> None:
        """Kill the whole sandbox: bwrap's group (its PID 1 dies with it), then every process of the slot uid."""
        _kill_group(self.proc.pid)
        self.proc.wait()
        if self.slot.uid is not None:
            kill_uid(self.slot.uid)   # the namespace is torn down asynchronously: wait until it is empty
        self.alive = False

    def _unavailable(self) -> SandboxUnavailable:
        self._ctl.close()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._kill()
        err = self.proc.stderr.read().decode(errors="replace")[-500:]
        self.alive = False
        return SandboxUnavailable(err or f"the sandbox could not be set up (bwrap exited with {self.proc.returncode})")

    def run(self, stdin: bytes, limits: Limits) -> RunResult:
        if not self.alive:
            raise SandboxUnavailable("this sandbox session is over")
        if self.group is not None:
            try:
                self.group.prepare(limits.memory_bytes, limits.processes)
            except OSError as exc:
                raise SandboxUnavailable(f"the slot's cgroup could not be set: {exc}") from None
        stdin_fd = os.memfd_create("stdin", os.MFD_CLOEXEC)
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        try:
            write_all(stdin_fd, stdin)
            os.lseek(stdin_fd, 0, os.SEEK_SET)
            started = time.monotonic()
            try:
                socket.send_fds(self._ctl, [_request(limits, self.group is None)], [stdin_fd, out_w, err_w])
            except OSError:   # runner is gone: bwrap could not set the sandbox up (reason on its stderr)
                raise self._unavailable() from None
        finally:
            for fd in (stdin_fd, out_w, err_w):
                os.close(fd)
        deadline = started + outer_deadline(limits.wall_seconds)
        oom = self.group.oom_killed if self.group is not None else None
        out, err, timed_out, exceeded, oom_stop = collect(out_r, err_r, deadline, limits.output_bytes, oom)
        stopped = timed_out or exceeded or oom_stop
        reply = None
        if not stopped:
            reply, oom_stop = wire_reply(self._ctl, deadline, oom)
            stopped = oom_stop
        wall = time.monotonic() - started   # up to the verdict's event: the teardown below is not the program's
        timed_out = timed_out or (reply is None and not stopped and time.monotonic() >= deadline)
        stopped = stopped or timed_out
        if stopped:
            self._kill()
        if reply is None and not stopped:
            raise self._unavailable()
        if reply is not None and reply[0] == b"X":   # the program never started
            raise ProgramNotStarted(os.strerror(int(reply[1])))
        if reply is not None and reply[0] == b"E":   # the case's namespaces could not be set up
            self._kill()
            raise SandboxUnavailable(f"sandbox set-up failed at {reply[1].decode()}: "
                                     f"{os.strerror(int(reply[2])) if len(reply) > 2 else ''}")
        flags = 0
        if reply is not None:   # the case's usage, measured by its init inside (see runner.c)
            status, cpu_us, maxrss, tree_rss, flags, own_wall = (int(x) for x in reply[1:7])
            code = os.waitstatus_to_exitcode(status)
            cpu, rss = cpu_us / 1e6, max(maxrss, tree_rss) * 1024
            if flags & 8:   # runner stopped it at the program's own wall clock
                timed_out, wall = True, own_wall / 1e6
        else:                   # killed before it could report (wall clock / output budget / OOM kill)
            code, cpu, rss, maxrss = -signal.SIGKILL, 0.0, 0, 0
        oom = oom_stop
        if self.group is not None:   # the whole tree, from the kernel; known for a killed case too
            usage = self.group.usage()
            cpu = max(cpu, usage.cpu_seconds) if reply is None else cpu
            rss = max(maxrss * 1024, usage.peak_bytes) if reply is not None else usage.peak_bytes
            oom = oom or usage.oom_kills > 0
        sig = -code if code < 0 else None
        return RunResult(exit_code=None if sig else code, signal=sig, cpu_seconds=cpu, wall_seconds=wall,
                         max_rss_bytes=rss, stdout=out, stderr=err, timed_out=timed_out, output_exceeded=exceeded,
                         cpu_exceeded=cpu > limits.cpu_seconds or bool(flags & 1),
                         memory_exceeded=oom or bool(flags & 2), file_limit=bool(flags & 4))


