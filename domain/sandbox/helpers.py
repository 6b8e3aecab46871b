"""The sandbox's two small C helpers, compiled once per host with gcc into the work dir and
named by their source's hash (a changed source is rebuilt; concurrent builders race harmlessly).
Linked statically when the host has a static libc (``libc6-dev``): no dynamic loader at each run,
and inside the sandbox there is no ``/etc/ld.so.cache`` to find libc with.

``launch.c`` runs outside: exec'd straight from the worker (so Python can vfork), it starts a
session, sets outer rlimits and switches to the slot uid, then execs bwrap. ``runner.c`` is PID 1
inside: for each test case it sets up the case's own namespaces, runs the program and reports
the program's own CPU time and peak RSS.
"""
from __future__ import annotations

import hashlib
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from domain.sandbox.errors import SandboxUnavailable


@dataclass(frozen=True)
class Helpers:
    """Two small C programs built once per host: ``launch`` (outside) and ``runner`` (inside)."""

    launch: Path
    runner: Path


_BUILT: dict[tuple[Path, str], Helpers] = {}


def build_helpers(work_dir: Path, cc: str = "gcc") -> Helpers:
    key = (work_dir, cc)
    if key not in _BUILT or not all(p.exists() for p in (_BUILT[key].launch, _BUILT[key].runner)):
        _BUILT[key] = Helpers(launch=_build(work_dir, "launch.c", cc), runner=_build(work_dir, "runner.c", cc))
    return _BUILT[key]


def _build(work_dir: Path, source_name: str, cc: str) -> Path:
    """Compile a helper (cached by content hash); concurrent builders race harmlessly."""
    path = Path(__file__).with_name(source_name)
    source = path.read_bytes()
    target = work_dir / "bin" / f"{path.stem}-{hashlib.sha256(source).hexdigest()[:12]}"
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(target.parent, 0o755)
        partial = target.with_suffix(f".{os.getpid()}.tmp")
        out = subprocess.run([cc, "-O2", "-static", "-o", str(partial), str(path)], capture_output=True, timeout=60)
        if out.returncode != 0:   # no static libc here: a dynamic build works too, a little slower
            out = subprocess.run([cc, "-O2", "-o", str(partial), str(path)], capture_output=True, timeout=60)
        if out.returncode != 0:
            raise SandboxUnavailable(f"cannot build {source_name}: {out.stderr.decode(errors='replace')[:500]}")
        os.chmod(partial, 0o755)
        os.replace(partial, target)
    return target
