"""Run ffmpeg/ffprobe the careful way: own process group, stderr drained in a thread (a run
that prints megabytes never blocks), ``-progress pipe:1`` parsed from stdout, a timeout and the
job's cancel check (``RunControl.check_cancelled``, polled while it runs) that kill the whole
process group, and the tail of stderr kept for errors."""
from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from typing import Callable, Sequence

from domain.jobs.control import UNWATCHED, RunControl

TAIL_BYTES = 8192


class ProcessError(Exception):
    def __init__(self, message: str, argv: Sequence[str], returncode: int | None, stderr_tail: str):
        super().__init__(f"{message}\n--- stderr tail ---\n{stderr_tail}" if stderr_tail else message)
        self.argv, self.returncode, self.stderr_tail = list(argv), returncode, stderr_tail


class ProcessFailed(ProcessError):
    """The process exited with a non-zero code (or was killed by a signal we did not send)."""


class ProcessTimeout(ProcessError):
    """The process ran past its timeout; its process group was killed."""


@dataclass
class Completed:
    returncode: int
    stdout: str
    stderr_tail: str


class _Tail:
    """Keeps only the last ``limit`` bytes of a stream while draining it."""

    def __init__(self, limit: int = TAIL_BYTES):
        self.limit = limit
        self.chunks: collections.deque[bytes] = collections.deque()
        self.size = 0
        self.total = 0

    def add(self, data: bytes) -> None:
        self.chunks.append(data)
        self.size += len(data)
        self.total += len(data)
        while self.size - len(self.chunks[0]) >= self.limit:
            self.size -= len(self.chunks.popleft())

    def text(self) -> str:
        return b"".join(self.chunks)[-self.limit:].decode("utf-8", "replace")


def parse_progress_block(lines: list[str]) -> dict[str, str]:
    """``key=value`` lines of one ``-progress`` block (ending with ``progress=continue|end``)."""
    out: dict[str, str] = {}
    for line in lines:
        key, sep, value = line.strip().partition("=")
        if sep:
            out[key] = value
    return out


def out_time_seconds(block: dict[str, str]) -> float | None:
    """Seconds of output written so far; ffmpeg 5 prints ``out_time_us`` (also as ``out_time_ms``)."""
    for key in ("out_time_us", "out_time_ms"):
        raw = block.get(key, "")
        if raw.lstrip("-").isdigit():
            return max(0.0, int(raw) / 1_000_000)
    return None


def kill_group(proc: subprocess.Popen, grace: float = 2.0) -> None:
    """SIGTERM the process group, then SIGKILL what is left after ``grace`` seconds."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=wait)
            break
        except subprocess.TimeoutExpired:
            continue
    try:  # children that outlived the leader
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Linux: SIGKILL this process if the worker that started it dies (no orphaned ffmpeg)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)   # PR_SET_PDEATHSIG
    except Exception:
        pass


class _Output:
    """What a running process writes, read by two threads: stderr drained into a tail (a run that
    prints megabytes never blocks), stdout captured whole or parsed into ``-progress`` blocks."""

    def __init__(self, proc: subprocess.Popen, capture_stdout: bool):
        self.proc, self.capture_stdout = proc, capture_stdout
        self.tail = _Tail()
        self.stdout_parts: list[bytes] = []
        self.latest: dict[str, str] | None = None
        self.lock = threading.Lock()
        self.readers = [threading.Thread(target=self._drain_stderr, daemon=True),
                        threading.Thread(target=self._read_stdout, daemon=True)]
        for t in self.readers:
            t.start()

    def _drain_stderr(self) -> None:
        for chunk in iter(lambda: self.proc.stderr.read1(65536), b""):
            self.tail.add(chunk)

    def _read_stdout(self) -> None:
        block: list[str] = []
        for raw in iter(self.proc.stdout.readline, b""):
            if self.capture_stdout:
                self.stdout_parts.append(raw)
                continue
            line = raw.decode("utf-8", "replace").strip()
            block.append(line)
            if line.startswith("progress="):
                with self.lock:
                    self.latest = parse_progress_block(block)
                block = []

    def report(self, on_progress: Callable[[dict[str, str]], None] | None) -> None:
        """Pass the latest ``-progress`` block on, once, from the calling thread."""
        if on_progress is None:
            return
        with self.lock:
            block, self.latest = self.latest, None
        if block is not None:
            on_progress(block)

    def close(self) -> None:
        for t in self.readers:
            t.join(timeout=5)
        self.proc.stdout.close()
        self.proc.stderr.close()

    def stdout(self) -> str:
        return b"".join(self.stdout_parts).decode("utf-8", "replace")


def run(argv: Sequence[str], *, timeout: float, control: RunControl = UNWATCHED,
        on_progress: Callable[[dict[str, str]], None] | None = None, capture_stdout: bool = False,
        poll: float = 0.1, cwd: str | None = None) -> Completed:
    """Run ``argv`` to completion. Raises ProcessFailed / ProcessTimeout, or the ``JobCancelled``
    of ``control.check_cancelled()`` once the process group is killed.

    ``on_progress`` is called from the calling thread with the latest ``-progress`` block.
    """
    proc = subprocess.Popen(list(argv), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True, cwd=cwd,
                            preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None)
    output = _Output(proc, capture_stdout)
    try:
        timed_out = _wait(proc, output, time.monotonic() + timeout, control, on_progress, poll)
    finally:
        output.close()
    try:  # the leader exited: make sure nothing it started keeps running
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    output.report(on_progress)
    name = os.path.basename(argv[0])
    if timed_out:
        raise ProcessTimeout(f"{name} ran longer than {timeout:g}s and was killed", argv, proc.returncode,
                             output.tail.text())
    if proc.returncode != 0:
        how = f"was killed by signal {-proc.returncode}" if proc.returncode < 0 else f"exited with {proc.returncode}"
        raise ProcessFailed(f"{name} {how}", argv, proc.returncode, output.tail.text())
    return Completed(proc.returncode, output.stdout(), output.tail.text())


def _wait(proc: subprocess.Popen, output: _Output, deadline: float, control: RunControl,
          on_progress: Callable[[dict[str, str]], None] | None, poll: float) -> bool:
    """Wait for the process, passing its progress on; True when it ran past ``deadline`` and was
    killed. A cancel (``control.check_cancelled()`` raising) kills the group and goes on up."""
    try:
        while proc.poll() is None:
            control.check_cancelled()
            if time.monotonic() > deadline:
                kill_group(proc)
                return True
            output.report(on_progress)
            time.sleep(poll)
    except BaseException:
        kill_group(proc)
        raise
    return False
