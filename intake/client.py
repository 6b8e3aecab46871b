"""The demo's small HTTP helper. Web tiers use the client package in ``clients/python``
(``coursework_client``: sync and async, typed, retrying; see docs/client.md).

    client = CourseworkClient("http://intake:8000", api_key)
    job = client.enqueue("ping", {"echo": "hi"}, idempotency_key="order-42")
    job = client.wait(job["id"])
"""
from __future__ import annotations

import json
import time
from datetime import datetime
from typing import Any, Iterator

import httpx

TERMINAL = frozenset({"succeeded", "failed", "dead_lettered", "cancelled"})


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, details: list | None = None):
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message, self.details = status, code, message, details or []


class CourseworkClient:
    def __init__(self, base_url: str, api_key: str, timeout: float = 30.0, transport=None):
        self.http = httpx.Client(base_url=base_url.rstrip("/"), timeout=timeout, transport=transport,
                                 headers={"Authorization": f"Bearer {api_key}"})

    def close(self) -> None:
        self.http.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _check(self, r: httpx.Response) -> Any:
        if r.status_code >= 400:
            try:
                err = r.json()["error"]
            except Exception:
                raise ApiError(r.status_code, "http_error", r.text[:500]) from None
            raise ApiError(r.status_code, err.get("code", "error"), err.get("message", ""), err.get("details"))
        return r.json() if r.content else None

    def request(self, method: str, path: str, **kw) -> Any:
        return self._check(self.http.request(method, path, **kw))

    def enqueue(self, kind: str, payload: dict, *, idempotency_key: str | None = None,
                run_at: datetime | None = None) -> dict:
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        body: dict[str, Any] = {"kind": kind, "payload": payload}
        if run_at is not None:
            body["run_at"] = run_at.isoformat()
        return self.request("POST", "/v1/jobs", json=body, headers=headers)["job"]

    def get(self, job_id: str) -> dict:
        return self.request("GET", f"/v1/jobs/{job_id}")["job"]

    def list(self, **filters) -> dict:
        return self.request("GET", "/v1/jobs", params={k: v for k, v in filters.items() if v is not None})

    def cancel(self, job_id: str) -> dict:
        return self.request("POST", f"/v1/jobs/{job_id}/cancel")["job"]

    def retry(self, job_id: str) -> dict:
        return self.request("POST", f"/v1/jobs/{job_id}/retry")["job"]

    def wait(self, job_id: str, timeout: float = 120.0, interval: float = 0.2) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            job = self.get(job_id)
            if job["state"] in TERMINAL:
                return job
            if time.monotonic() > deadline:
                raise TimeoutError(f"job {job_id} still {job['state']} after {timeout}s")
            time.sleep(interval)

    def events(self, job_id: str, last_event_id: int | None = None) -> Iterator[dict]:
        """Follow a job's server-sent events until it ends."""
        headers = {"Last-Event-ID": str(last_event_id)} if last_event_id else {}
        with self.http.stream("GET", f"/v1/jobs/{job_id}/events", headers=headers, timeout=None) as r:
            if r.status_code >= 400:
                r.read()
                self._check(r)
            yield from parse_sse(r.iter_lines())


def parse_sse(lines: Iterator[str]) -> Iterator[dict]:
    data: list[str] = []
    for line in lines:
        if line == "":
            if data:
                yield json.loads("\n".join(data))
                data = []
        elif line.startswith("data:"):
            data.append(line[5:].lstrip())
