"""The job state machine: the only legal transitions, shared by every family."""
from __future__ import annotations

QUEUED, RUNNING, RETRYING = "queued", "running", "retrying"
SUCCEEDED, FAILED, DEAD_LETTERED, CANCELLED = "succeeded", "failed", "dead_lettered", "cancelled"

ALL = (QUEUED, RUNNING, RETRYING, SUCCEEDED, FAILED, DEAD_LETTERED, CANCELLED)
TERMINAL = frozenset({SUCCEEDED, FAILED, DEAD_LETTERED, CANCELLED})
CLAIMABLE = frozenset({QUEUED, RETRYING})

TRANSITIONS: dict[str, frozenset[str]] = {
    QUEUED: frozenset({RUNNING, CANCELLED, DEAD_LETTERED}),
    RUNNING: frozenset({SUCCEEDED, RETRYING, FAILED, DEAD_LETTERED, CANCELLED, QUEUED}),
    RETRYING: frozenset({RUNNING, CANCELLED, DEAD_LETTERED}),
    # an operator may requeue a job that failed or was dead-lettered
    FAILED: frozenset({QUEUED}),
    DEAD_LETTERED: frozenset({QUEUED}),
    SUCCEEDED: frozenset(),
    CANCELLED: frozenset(),
}


class IllegalTransition(Exception):
    def __init__(self, current: str, target: str):
        super().__init__(f"a job cannot go from {current!r} to {target!r}")
        self.current, self.target = current, target


def check(current: str, target: str) -> None:
    if target not in TRANSITIONS.get(current, frozenset()):
        raise IllegalTransition(current, target)
