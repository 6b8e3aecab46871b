"""Verdicts like a programming judge, output comparison, and classifying one sandbox run."""
from __future__ import annotations

import enum
import math
import signal as signals

from domain.sandbox.jail import RunResult


class Verdict(str, enum.Enum):
    accepted = "AC"
    wrong_answer = "WA"
    time_limit = "TLE"
    memory_limit = "MLE"
    output_limit = "OLE"
    runtime_error = "RE"
    compilation_error = "CE"
    internal_error = "IE"

    @property
    def title(self) -> str:
        return {"AC": "Accepted", "WA": "Wrong Answer", "TLE": "Time Limit Exceeded",
                "MLE": "Memory Limit Exceeded", "OLE": "Output Limit Exceeded", "RE": "Runtime Error",
                "CE": "Compilation Error", "IE": "Internal Error"}[self.value]


class Comparison(str, enum.Enum):
    exact = "exact"        # byte for byte (line endings normalised to \n)
    trimmed = "trimmed"    # trailing spaces on each line and blank lines at the end ignored
    numeric = "numeric"    # tokens compared as numbers within a tolerance, other tokens exactly


def _lines_trimmed(text: str) -> list[str]:
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    return lines


def _close(a: str, b: str, tolerance: float) -> bool:
    try:
        x, y = float(a), float(b)
    except ValueError:
        return a == b
    if math.isnan(x) or math.isnan(y):
        return False
    return abs(x - y) <= tolerance or abs(x - y) <= tolerance * max(abs(x), abs(y))


def outputs_match(actual: str, expected: str, mode: Comparison | str, tolerance: float = 1e-6) -> bool:
    mode = Comparison(mode)
    if mode is Comparison.exact:
        return actual.replace("\r\n", "\n") == expected.replace("\r\n", "\n")
    if mode is Comparison.trimmed:
        return _lines_trimmed(actual) == _lines_trimmed(expected)
    got, want = actual.split(), expected.split()
    return len(got) == len(want) and all(_close(a, b, tolerance) for a, b in zip(got, want))


def classify(run: RunResult, *, memory_limit_bytes: int, oom_markers: tuple[bytes, ...] = ()) -> Verdict | None:
    """The verdict a run earns before its output is compared; None means "compare the output".

    One event, one verdict, whatever the language: writing past the file size limit is OLE
    whether the runtime died of SIGXFSZ (C, C++, Node.js) or turned EFBIG/ENOSPC into an
    exception (Python ignores SIGXFSZ): ``runner`` reports that a file reached the limit or that
    ``/tmp`` filled. An allocation that failed is MLE when it can be told: the kernel's OOM kill in
    the case's cgroup, the tree's memory past the limit, or the runtime's own words
    (``MemoryError``, ``std::bad_alloc``, V8's heap out of memory). A C program that dereferences
    the NULL of a ``malloc`` refused by ``RLIMIT_AS`` without having used that memory looks like any
    other crash: RE. Time: TLE when the measured CPU time of the case's processes passes the limit
    (the rlimits sit above it), or the wall clock ran out."""
    if run.output_exceeded:
        return Verdict.output_limit
    failed = run.exit_code != 0
    if (run.memory_exceeded or run.max_rss_bytes > memory_limit_bytes
            or (failed and any(m in run.stderr for m in oom_markers))):
        return Verdict.memory_limit
    if run.cpu_exceeded or run.timed_out or run.signal == signals.SIGXCPU:
        return Verdict.time_limit
    if run.signal == signals.SIGXFSZ or (failed and run.file_limit):
        return Verdict.output_limit     # wrote a file past the size limit / filled /tmp
    if failed:
        return Verdict.runtime_error
    return None


def describe_exit(run: RunResult) -> str:
    if run.signal:
        try:
            name = signals.Signals(run.signal).name
        except ValueError:
            name = f"signal {run.signal}"
        return f"killed by {name}"
    return f"exit code {run.exit_code}"
