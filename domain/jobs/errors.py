"""Errors a job engine raises to tell the lifecycle what to do next."""
from __future__ import annotations


class JobError(Exception):
    code = "job_error"

    def __init__(self, message: str, *, code: str | None = None, details: list[dict] | None = None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.details = details or []


class PermanentError(JobError):
    """Bad input or a rule violation: the job fails at once and is never retried."""

    code = "permanent_error"


class InvalidPayload(PermanentError):
    """A payload that passed its schema but not a check against the data (e.g. unknown id).

    Raised at intake it becomes a 422 with ``details``; raised in a worker, a failed job.
    """

    code = "invalid_payload"

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}", details=[{"field": field, "message": message}])
        self.field = field


class TransientError(JobError):
    """Something outside us failed for now (timeout, 5xx, connection): retry with backoff."""

    code = "transient_error"

    def __init__(self, message: str, *, retry_after: float | None = None, code: str | None = None):
        super().__init__(message, code=code)
        self.retry_after = retry_after


class JobCancelled(JobError):
    """Raised inside an engine when the job was cancelled while it ran."""

    code = "cancelled"
