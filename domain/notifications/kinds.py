"""Job kinds of the notifications family. Filled in by the family's issue."""
from __future__ import annotations

from domain.jobs.kinds import Enqueue, JobKind  # noqa: F401

KINDS: list[JobKind] = []
REACTIONS: dict = {}
