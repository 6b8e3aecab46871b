"""Run ffmpeg/ffprobe the careful way: own process group, stderr drained in a thread (a run
that prints megabytes never blocks), ``-progress pipe:1`` parsed from stdout, a timeout and a
cancel check that kill the whole process group, and the tail of stderr kept for errors."""
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

TAIL_BYTES = 8192


class ProcessError(Exception):
    def __init__(self, message: str, argv: Sequence[str], returncode: int | None, stderr_tail: str):
        super().__init__(f"{message}\n--- stderr tail ---\n{stderr_tail}" if stderr_tail else message)
        self.argv, self.returncode, self.stderr_tail = list(argv), returncode, stderr_tail


class ProcessFailed(ProcessError):
    """The process exited with a non-zero code (or was killed by a signal we did not send)."""


class ProcessTimeout(ProcessError):
    """The process ran past its timeout; its process group was killed."""


class ProcessCancelled(ProcessError):
    """The cancel check said stop; its process group was killed."""


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


def run(argv: Sequence[str], *, timeout: float, cancelled: Callable[[], bool] = lambda: False,
        on_progress: Callable[[dict[str, str]], None] | None = None, capture_stdout: bool = False,
        poll: float = 0.1, cwd: str | None = None) -> Completed:
    """Run ``argv`` to completion. Raises ProcessFailed / ProcessTimeout / ProcessCancelled.

    ``on_progress`` is called from the calling thread with the latest ``-progress`` block.
    """
    proc = subprocess.Popen(list(argv), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True, cwd=cwd,
                            preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None)
    tail = _Tail()
    stdout_parts: list[bytes] = []
    latest: list[dict[str, str] | None] = [None]
    lock = threading.Lock()

    def drain_stderr() -> None:
        for chunk in iter(lambda: proc.stderr.read1(65536), b""):
            tail.add(chunk)

    def read_stdout() -> None:
        block: list[str] = []
        for raw in iter(proc.stdout.readline, b""):
            if capture_stdout:
                stdout_parts.append(raw)
                continue
            line = raw.decode("utf-8", "replace").strip()
            block.append(line)
            if line.startswith("progress="):
                with lock:
                    latest[0] = parse_progress_block(block)
                block = []

    readers = [threading.Thread(target=drain_stderr, daemon=True), threading.Thread(target=read_stdout, daemon=True)]
    for t in readers:
        t.start()
    deadline = time.monotonic() + timeout
    outcome: type[ProcessError] | None = None
    try:
        while proc.poll() is None:
            if cancelled():
                outcome = ProcessCancelled
            elif time.monotonic() > deadline:
                outcome = ProcessTimeout
            if outcome:
                kill_group(proc)
                break
            _report(latest, lock, on_progress)
            time.sleep(poll)
    except BaseException:
        kill_group(proc)
        raise
    finally:
        for t in readers:
            t.join(timeout=5)
        proc.stdout.close()
        proc.stderr.close()
    try:  # the leader exited: make sure nothing it started keeps running
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    _report(latest, lock, on_progress)
    name = os.path.basename(argv[0])
    if outcome is ProcessCancelled:
        raise ProcessCancelled(f"{name} was cancelled", argv, proc.returncode, tail.text())
    if outcome is ProcessTimeout:
        raise ProcessTimeout(f"{name} ran longer than {timeout:g}s and was killed", argv, proc.returncode,
                             tail.text())
    if proc.returncode != 0:
        how = f"was killed by signal {-proc.returncode}" if proc.returncode < 0 else f"exited with {proc.returncode}"
        raise ProcessFailed(f"{name} {how}", argv, proc.returncode, tail.text())
    return Completed(proc.returncode, b"".join(stdout_parts).decode("utf-8", "replace"), tail.text())


def _report(latest, lock, on_progress) -> None:
    if on_progress is None:
        return
    with lock:
        block, latest[0] = latest[0], None
    if block is not None:
        on_progress(block)
