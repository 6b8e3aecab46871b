"""Whole-case accounting with cgroups, where the host lets the worker make them.

Mode, chosen once per process (``mode()``), shown by ``coursework sandbox check``:

Only a root worker (one uid per slot, see ``slots.py``) uses cgroups.

- ``v2``: a cgroup v2 tree where the worker may enable the ``memory`` and ``pids`` controllers
  for groups it creates: ``COURSEWORK_SANDBOX_CGROUP`` names that directory, else the worker's own
  cgroup is tried (writing ``+memory +pids`` to its ``cgroup.subtree_control``, which the kernel
  refuses while the group holds processes, e.g. a container's root: then set the variable to a
  delegated group, such as one systemd's ``Delegate=yes`` gives).
- ``v1``: the ``memory``, ``cpuacct`` and ``pids`` hierarchies of cgroup v1, writable.
- ``none``: the fallback. ``runner`` samples the case's processes itself (see ``runner.c``): the
  tree's CPU time and summed resident memory, killing them all past either limit; every
  descendant is killed and reaped before the reply, so its CPU time counts.

With a cgroup, each slot has a group ``coursework-sandbox/uid-N`` (its host uid) that ``launch``
joins before it drops to the slot uid, so bwrap, ``runner`` and every process of every case are in it. Per case
the worker sets the memory limit (the exercise's limit + ``OVERHEAD`` for bwrap, ``runner`` and
the case's init), resets the peak, and reads afterwards: the tree's peak memory, the OOM kills
(the kernel's memory limit holds for the whole tree: an OOM kill is Memory Limit Exceeded) and
the tree's CPU time (known even for a case killed by the wall clock).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

MB = 1024 * 1024
OVERHEAD = 8 * MB   # bwrap's monitor, runner and the case's init share the slot's group
NAME = "coursework-sandbox"


@dataclass
class Usage:
    cpu_seconds: float   # the whole group's, during the case
    peak_bytes: int      # the group's peak during the case, above what it held before it
    oom_kills: int       # processes the kernel killed for the group's memory limit


def _mounts() -> list[tuple[str, str, set[str]]]:
    """(mount point, fs type, super options) of every cgroup mount."""
    found = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            fstype, _source, options = (right.split() + ["", ""])[:3]
            if fstype in ("cgroup", "cgroup2"):
                found.append((left.split()[4], fstype, set(options.split(","))))
    return found


def _own(controller: str | None) -> str:
    """This process's cgroup path in the hierarchy of ``controller`` (None: the v2 hierarchy)."""
    with open("/proc/self/cgroup") as f:
        for line in f:
            _, names, path = line.rstrip("\n").split(":", 2)
            if (controller is None and names == "") or (controller and controller in names.split(",")):
                return path
    return "/"


def _write(path: Path, text: str) -> None:
    with open(path, "w") as f:
        f.write(text)


def _read_int(path: Path) -> int:
    return int(path.read_text().split()[0])


def _keyed(path: Path, key: str) -> int:
    for line in path.read_text().splitlines():
        name, _, value = line.partition(" ")
        if name == key:
            return int(value)
    return 0


class SlotGroup:
    """The cgroup(s) of one slot. ``procs``: the ``cgroup.procs`` files ``launch`` writes itself to."""

    procs: list[Path]

    def prepare(self, memory_bytes: int, processes: int) -> None:
        raise NotImplementedError

    def usage(self) -> Usage:
        raise NotImplementedError

    def oom_killed(self) -> bool:
        """Whether the kernel has killed a process of the case for the memory limit (cheap: polled)."""
        raise NotImplementedError


class V2Group(SlotGroup):
    def __init__(self, path: Path):
        path.mkdir(exist_ok=True)
        self.path, self.procs = path, [path / "cgroup.procs"]
        self._oom = self._cpu = 0

    def prepare(self, memory_bytes: int, processes: int) -> None:
        _write(self.path / "memory.max", str(memory_bytes + OVERHEAD))
        if (self.path / "memory.swap.max").exists():
            _write(self.path / "memory.swap.max", "0")
        _write(self.path / "pids.max", str(processes + 8))
        try:
            _write(self.path / "memory.peak", "0")   # resettable since Linux 6.12
        except OSError:
            pass
        self._oom = _keyed(self.path / "memory.events", "oom_kill")
        self._cpu = _keyed(self.path / "cpu.stat", "usage_usec")
        self._base = _read_int(self.path / "memory.current")

    def usage(self) -> Usage:
        peak_file = self.path / "memory.peak"
        peak = _read_int(peak_file) if peak_file.exists() else _read_int(self.path / "memory.current")
        return Usage(cpu_seconds=(_keyed(self.path / "cpu.stat", "usage_usec") - self._cpu) / 1e6,
                     peak_bytes=max(0, peak - self._base),
                     oom_kills=_keyed(self.path / "memory.events", "oom_kill") - self._oom)

    def oom_killed(self) -> bool:
        return _keyed(self.path / "memory.events", "oom_kill") > self._oom


class V1Group(SlotGroup):
    def __init__(self, roots: dict[str, Path], slot: str):
        self.dirs = {c: root / slot for c, root in roots.items()}
        for d in self.dirs.values():
            d.mkdir(exist_ok=True)
        self.procs = [d / "cgroup.procs" for d in self.dirs.values()]
        self._oom = self._cpu = 0

    def prepare(self, memory_bytes: int, processes: int) -> None:
        mem = self.dirs["memory"]
        limit = str(memory_bytes + OVERHEAD)
        # memory+swap may never be below memory: lift it, set memory, then bring it down to the
        # same value (no swap), where the host accounts swap at all
        swap = mem / "memory.memsw.limit_in_bytes"
        for path, value in ((swap, "-1"), (mem / "memory.limit_in_bytes", limit), (swap, limit)):
            try:
                _write(path, value)
            except OSError:
                if path != swap:
                    raise
        _write(mem / "memory.max_usage_in_bytes", "0")
        _write(self.dirs["pids"] / "pids.max", str(processes + 8))
        self._oom = _keyed(mem / "memory.oom_control", "oom_kill")
        self._cpu = _read_int(self.dirs["cpuacct"] / "cpuacct.usage")
        self._base = _read_int(mem / "memory.usage_in_bytes")

    def usage(self) -> Usage:
        mem = self.dirs["memory"]
        return Usage(cpu_seconds=(_read_int(self.dirs["cpuacct"] / "cpuacct.usage") - self._cpu) / 1e9,
                     peak_bytes=max(0, _read_int(mem / "memory.max_usage_in_bytes") - self._base),
                     oom_kills=_keyed(mem / "memory.oom_control", "oom_kill") - self._oom)

    def oom_killed(self) -> bool:
        return _keyed(self.dirs["memory"] / "memory.oom_control", "oom_kill") > self._oom


class Tree:
    """Where the slots' groups live, for one mode."""

    def __init__(self, mode: str, roots: dict[str, Path], why: str):
        self.mode, self.roots, self.why = mode, roots, why

    def slot(self, uid: int) -> SlotGroup | None:
        """The group of the slot that runs as host ``uid`` (named by uid: whoever holds the uid holds the group)."""
        if self.mode == "v2":
            return V2Group(self.roots["unified"] / f"uid-{uid}")
        if self.mode == "v1":
            return V1Group(self.roots, f"uid-{uid}")
        return None


def _try_v2(mounts) -> Tree | None:
    unified = next((m for m, t, _ in mounts if t == "cgroup2"), None)
    if unified is None:
        return None
    wanted = os.environ.get("COURSEWORK_SANDBOX_CGROUP")
    parent = Path(wanted) if wanted else Path(unified) / _own(None).lstrip("/")
    try:
        available = set((parent / "cgroup.controllers").read_text().split())
        if not {"memory", "pids"} <= available:
            return None
        if not {"memory", "pids"} <= set((parent / "cgroup.subtree_control").read_text().split()):
            _write(parent / "cgroup.subtree_control", "+memory +pids")
        root = parent / NAME
        root.mkdir(exist_ok=True)
        _write(root / "cgroup.subtree_control", "+memory +pids")
        return Tree("v2", {"unified": root}, f"cgroup v2 at {root}")
    except OSError:
        return None


def _try_v1(mounts) -> Tree | None:
    roots = {}
    for controller in ("memory", "cpuacct", "pids"):
        point = next((m for m, t, opts in mounts if t == "cgroup" and controller in opts), None)
        if point is None:
            return None
        roots[controller] = Path(point) / _own(controller).lstrip("/") / NAME
    try:
        for root in roots.values():
            root.mkdir(exist_ok=True)
            probe = root / f"probe-{os.getpid()}"
            probe.mkdir(exist_ok=True)
            probe.rmdir()
    except OSError:
        return None
    return Tree("v1", roots, "cgroup v1 (" + ", ".join(f"{c} at {r}" for c, r in roots.items()) + ")")


_TREE: dict[str, Tree] = {}


def tree(allow: bool = True) -> Tree:
    """The cgroup tree of this host, found once per process; ``allow=False`` forces the fallback."""
    key = "on" if allow else "off"
    if key not in _TREE:
        found = None
        if allow and os.geteuid() == 0:   # slots (and so groups of their own) need a root worker
            try:
                mounts = _mounts()
            except OSError:
                mounts = []
            found = _try_v2(mounts) or _try_v1(mounts)
        _TREE[key] = found or Tree("none", {}, "no writable cgroup here: runner samples the case's processes")
    return _TREE[key]
