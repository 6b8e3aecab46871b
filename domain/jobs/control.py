"""How a running job's domain code reports progress and learns it was cancelled: one small object.

Every engine that runs long takes a ``control: RunControl`` (the worker's ``JobContext`` is one)
and calls ``control.check_cancelled()`` between steps: it raises ``JobCancelled``, which the
lifecycle turns into the ``cancelled`` state. Code that runs a subprocess (ffmpeg, the sandbox)
calls it in its wait loop, kills what it started when it raises, and lets it propagate.
"""
from __future__ import annotations

from typing import Protocol


class RunControl(Protocol):
    def progress(self, percent: float, message: str = "") -> None:
        """Report how far the run is (0-100) and what it is doing."""

    def check_cancelled(self) -> None:
        """Raise ``domain.jobs.errors.JobCancelled`` when the run should stop now."""


class Unwatched:
    """A run nobody watches or cancels: a beat tick, a script, a test of the logic alone."""

    def progress(self, percent: float, message: str = "") -> None:
        pass

    def check_cancelled(self) -> None:
        pass


UNWATCHED = Unwatched()
