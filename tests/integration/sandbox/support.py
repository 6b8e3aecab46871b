"""Helpers for sandbox tests."""
from __future__ import annotations

from pathlib import Path

from tests.support import sessions

BASE_UID = sessions.uid_base(sessions.JUDGE_SLOTS)   # this session's own: other sessions judge at once
SLOTS = 4


def sandbox_processes() -> list[int]:
    """Host pids whose real uid is one of the sandbox slot uids (none may outlive a run)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
        except OSError:
            continue
        uid_line = next((line for line in status.splitlines() if line.startswith("Uid:")), "")
        uids = [int(x) for x in uid_line.split()[1:]]
        if any(BASE_UID <= u < BASE_UID + SLOTS for u in uids):
            found.append(int(entry.name))
    return found
