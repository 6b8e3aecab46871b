"""Helpers for tests that enqueue through intake and wait for an outcome."""
from __future__ import annotations

import time

import httpx

TERMINAL = {"succeeded", "failed", "dead_lettered", "cancelled"}


def enqueue(api: httpx.Client, kind: str, payload: dict, **headers) -> dict:
    r = api.post("/v1/jobs", json={"kind": kind, "payload": payload}, headers=headers)
    assert r.status_code == 202, r.text
    return r.json()["job"]


def wait_job(api: httpx.Client, job_id: str, timeout: float = 60.0, states=TERMINAL) -> dict:
    deadline = time.time() + timeout
    job = None
    while time.time() < deadline:
        job = api.get(f"/v1/jobs/{job_id}").json()["job"]
        if job["state"] in states:
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} not in {states} after {timeout}s: {job}")


def run_job(api: httpx.Client, kind: str, payload: dict, timeout: float = 60.0) -> dict:
    return wait_job(api, enqueue(api, kind, payload)["id"], timeout)


def events(stack, job_id: str) -> list[str]:
    """The job's event types in the stack's database, oldest first."""
    from sqlalchemy import select

    from domain.db import session_factory
    from domain.jobs.models import JobEvent

    with session_factory(stack.db_url)() as s:
        return list(s.scalars(select(JobEvent.type).where(JobEvent.job_id == job_id).order_by(JobEvent.id)))
