"""What keeps test sessions apart on one host: pytest-xdist workers of one run, and runs from other
checkouts at the same time. Databases, Redis servers, S3 servers and ports are already each
session's own; the host resources a sandbox run uses are not: slot uids (their processes are
counted, swept and killed by uid), the cgroups named after those uids, and the sandbox's work
folder (slot locks, boxes). Each session therefore holds a block of host uids, claimed with an
advisory lock for its lifetime, and keeps its sandbox folders under a name of that block."""
from __future__ import annotations

import tempfile
from pathlib import Path

from domain.sandbox.slots import try_lock

UID_START = 63000    # apart from the production default (61000)
UID_BLOCK_SIZE = 1000
BLOCKS = 60
LOCK_DIR = Path(tempfile.gettempdir()) / "coursework-test-sessions"

# offsets inside a session's block: the stack's workers, the judge tests, test_pid1's slots
STACK_SLOTS, JUDGE_SLOTS, PID1_SLOTS = 0, 100, 200

_held: dict[str, int] = {}


def _claim_block() -> int:
    """The first block no other live session holds (the lock goes with this process)."""
    LOCK_DIR.mkdir(parents=True, exist_ok=True)
    for block in range(BLOCKS):
        fd = try_lock(LOCK_DIR / f"uid-block-{block}.lock")
        if fd is None:
            continue
        _held["fd"] = fd          # kept open: the lock lasts as long as this session
        return block
    raise RuntimeError(f"all {BLOCKS} sandbox uid blocks in {LOCK_DIR} are held by running test sessions")


def block() -> int:
    if "block" not in _held:
        _held["block"] = _claim_block()
    return _held["block"]


def uid_base(offset: int = STACK_SLOTS) -> int:
    """A host uid of this session's block: ``offset`` is one of the offsets above."""
    return UID_START + UID_BLOCK_SIZE * block() + offset


def sandbox_work_dir() -> Path:
    """The stack workers' sandbox folder for this session's block (reused by the next holder,
    whose sweep clears boxes a killed session left behind)."""
    return Path(tempfile.gettempdir()) / f"coursework-sandbox-test-{block()}"


def env() -> dict[str, str]:
    """Settings every worker of this session inherits."""
    return {"COURSEWORK_SANDBOX_UID_BASE": str(uid_base(STACK_SLOTS)),
            "COURSEWORK_SANDBOX_WORK_DIR": str(sandbox_work_dir())}
