"""Errors the client raises."""
from __future__ import annotations


class CourseworkError(Exception):
    """Base of the client's errors."""


class ApiError(CourseworkError):
    """The API answered with its error envelope ``{"error": {"code", "message", "details"}}``."""

    def __init__(self, status: int, code: str, message: str, details: list | None = None,
                 retry_after: float | None = None):
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message = status, code, message
        self.details = details or []
        self.retry_after = retry_after


class JobFailed(CourseworkError):
    """``wait(..., raise_on_failure=True)``: the job ended without succeeding."""

    def __init__(self, job):
        super().__init__(f"job {job.id} ({job.kind}) ended {job.state}: {job.error}")
        self.job = job


class StreamError(CourseworkError):
    """A server-sent stream reported an error event (e.g. a tutor reply that failed)."""

    def __init__(self, code: str, message: str):
        super().__init__(f"{code}: {message}")
        self.code, self.message = code, message
