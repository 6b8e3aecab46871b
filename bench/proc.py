"""CPU time read from /proc (Linux) for the benches: one process, a process tree, the kernel threads."""
from __future__ import annotations

import os

CLK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int | str) -> list[str] | None:
    """/proc/<pid>/stat after the command name: [1] ppid, [11:15] utime, stime, cutime, cstime
    (ticks), [19] start time; None if the process is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rpartition(")")[2].split()
    except OSError:
        return None


def cpu(pid: int, *, reaped: bool = False) -> float:
    """CPU seconds (user + system) of one process, 0 if it is gone; with ``reaped``, plus those of
    the children it has waited for."""
    fields = _stat(pid)
    return 0.0 if fields is None else sum(int(f) for f in fields[11:15 if reaped else 13]) / CLK


def tree(pid: int) -> list[int]:
    """A process and its live descendants (the children of each of its threads)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            tasks = os.listdir(f"/proc/{p}/task")
        except OSError:     # gone meanwhile
            continue
        for task in tasks:
            try:
                with open(f"/proc/{p}/task/{task}/children") as f:
                    todo += (int(c) for c in f.read().split())
            except OSError:
                continue
    return out


def tree_cpu(*pids: int, reaped: bool = False) -> float:
    """CPU seconds of these processes and their live descendants (see ``cpu`` for ``reaped``)."""
    return sum(cpu(p, reaped=reaped) for p in {p for root in pids for p in tree(root)})


def kernel_threads() -> dict[tuple[int, int], int]:
    """CPU ticks used so far by each kernel thread (a child of kthreadd, pid 2), keyed by pid and
    start time (a pid reused meanwhile is another thread)."""
    ticks = {}
    for entry in os.scandir("/proc"):
        fields = _stat(entry.name) if entry.name.isdigit() else None
        if fields is not None and fields[1] == "2":
            ticks[int(entry.name), int(fields[19])] = int(fields[11]) + int(fields[12])
    return ticks


def kernel_since(before: dict[tuple[int, int], int]) -> float:
    """CPU seconds kernel threads used since ``before = kernel_threads()``. A thread that exited
    meanwhile takes its share along: the figure can be low, never negative."""
    return sum(t - before.get(key, 0) for key, t in kernel_threads().items()) / CLK
