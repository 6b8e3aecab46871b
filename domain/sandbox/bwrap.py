"""The command line that starts a sandbox: ``launch`` (outer rlimits, the slot uid and cgroup)
exec'ing bubblewrap with the file system view and the environment described in ``jail``."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

from domain.sandbox.cgroups import SlotGroup
from domain.sandbox.helpers import Helpers

SANDBOX_UID = 65534
PATH = "/usr/local/bin:/usr/bin:/bin"
RUNNER_PATH = "/sandbox/run"


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


def bwrap_argv(box: Path, argv: list[str], *, writable_box: bool, runner: Path, ctl_fd: int,
               env: dict[str, str] | None = None, bwrap: str = "bwrap") -> list[str]:
    cmd = [bwrap, "--unshare-all", "--unshare-user", "--die-with-parent", "--new-session", "--as-pid-1",
           "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID), "--hostname", "sandbox",
           "--ro-bind", "/usr", "/usr", *_ROOT_LINKS,
           "--proc", "/proc", "--dev", "/dev", "--dir", "/tmp",
           "--bind" if writable_box else "--ro-bind", str(box), "/box",
           "--ro-bind", str(runner), RUNNER_PATH,
           "--remount-ro", "/dev", "--remount-ro", "/",
           "--chdir", "/box" if writable_box else "/tmp", "--clearenv"]
    for key, value in {"PATH": PATH, "HOME": "/tmp", "LANG": "C.UTF-8", "TMPDIR": "/tmp", **(env or {})}.items():
        cmd += ["--setenv", key, value]
    return [*cmd, "--", RUNNER_PATH, str(ctl_fd), *argv]


def launch_argv(helpers: Helpers, processes: int, uid: int | None, group: SlotGroup | None) -> list[str]:
    """Outer limits, for bwrap and runner; each case's own limits are set by runner."""
    big = str(1 << 62)
    groups = ":".join(str(p) for p in group.procs) if group else "-"
    return [str(helpers.launch), str(-1 if uid is None else uid), groups, str(1 << 30), big, str(processes + 8),
            big, "256"]


_FOUND: dict[str, str] = {}


def which(bwrap: str) -> str | None:
    """shutil.which, remembered once found (a PATH search per submission is measurable)."""
    if bwrap not in _FOUND:
        path = shutil.which(bwrap)
        if path is None:
            return None
        _FOUND[bwrap] = path
    return _FOUND[bwrap]
