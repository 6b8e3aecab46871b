"""What both clients share: configuration, headers, the error envelope, event decoding."""
from __future__ import annotations

import json
import uuid
from typing import Any, Optional

import httpx

from coursework_client import __version__
from coursework_client._calls import Call
from coursework_client._retry import Policy, retry_after
from coursework_client.errors import ApiError, StreamError
from coursework_client.models import TERMINAL_STATES, Job, JobEvent

TERMINAL_EVENTS = frozenset(f"job.{s}" for s in TERMINAL_STATES)
MAX_BATCH = 500       # the server's documented limit per POST /v1/jobs/batch (see docs/api.md)


class Base:
    def __init__(self, base_url: str, api_key: str, *, timeout: float = 30.0, retry: Optional[Policy] = None,
                 poll_interval: float = 2.0, max_poll_interval: float = 15.0, stream_read_timeout: float = 45.0):
        self.base_url = base_url.rstrip("/")
        self.retry = retry or Policy()
        self.poll_interval, self.max_poll_interval = poll_interval, max_poll_interval
        self.timeout = timeout
        # the server sends a keep-alive every 15 s: a longer silence is a lost connection
        self.stream_timeout = httpx.Timeout(timeout, read=stream_read_timeout)
        self.auth_headers = {"Authorization": f"Bearer {api_key}",
                             "User-Agent": f"coursework-client/{__version__}"}

    @staticmethod
    def headers_for(call: Call) -> dict:
        """The call's headers; a POST gets an Idempotency-Key (the caller's, or a new one), the same
        on every retry, so a retried POST is never done twice."""
        headers = dict(call.headers)
        if call.method == "POST" and not call.external:
            headers["Idempotency-Key"] = call.idempotency_key or uuid.uuid4().hex
        return headers

    @staticmethod
    def error(r: httpx.Response) -> ApiError:
        try:
            err = r.json()["error"]
            code, message, details = err.get("code", "error"), err.get("message", ""), err.get("details")
        except (ValueError, KeyError, TypeError, AttributeError):
            code, message, details = "http_error", r.text[:500], None
        return ApiError(r.status_code, code, message, details, retry_after(r))

    @staticmethod
    def job_event(data: str) -> JobEvent:
        return JobEvent.model_validate_json(data)

    @staticmethod
    def tutor_event(event: str, data: str) -> tuple[str, Any]:
        """(kind, value) of a tutor stream event: ('token', text), ('done', message dict); raises on error."""
        body = json.loads(data) if data else {}
        if event == "error":
            raise StreamError(body.get("code", "error"), body.get("message", ""))
        if event == "token":
            return "token", body.get("text", "")
        return event, body

    @staticmethod
    def batch_items(jobs: list[dict]) -> list[dict]:
        """Each item with its own Idempotency-Key (kept if given), so a retried batch is harmless."""
        if len(jobs) > MAX_BATCH:
            raise ValueError(f"at most {MAX_BATCH} jobs per batch; split them (enqueue_many does)")
        return [{**job, "idempotency_key": job.get("idempotency_key") or uuid.uuid4().hex} for job in jobs]

    @staticmethod
    def finished(job: Job, raise_on_failure: bool) -> Job:
        from coursework_client.errors import JobFailed

        if raise_on_failure and job.state != "succeeded":
            raise JobFailed(job)
        return job
