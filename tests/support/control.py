"""A ``RunControl`` for tests that call domain code or task functions directly."""
from __future__ import annotations

from typing import Callable

from domain.jobs.errors import JobCancelled


class RecordingControl:
    """Records every progress report; ``cancel()`` (or ``cancel_when(percent, message)`` turning
    true on a report) makes the next ``check_cancelled()`` raise ``JobCancelled``."""

    def __init__(self, cancel_when: Callable[[float, str], bool] | None = None):
        self.reports: list[tuple[float, str]] = []
        self.cancel_when = cancel_when
        self.cancelled = False
        self.checks = 0

    def progress(self, percent: float, message: str = "") -> None:
        self.reports.append((percent, message))
        if self.cancel_when is not None and self.cancel_when(percent, message):
            self.cancelled = True

    def cancel(self) -> None:
        self.cancelled = True

    def check_cancelled(self) -> None:
        self.checks += 1
        if self.cancelled:
            raise JobCancelled("cancelled by the test")

    @property
    def messages(self) -> list[str]:
        return [m for _, m in self.reports]
