"""The operator's `coursework jobs` and `coursework keys` subcommands against the real stack."""
from __future__ import annotations

import json
import subprocess

from cli.services import ROOT, coursework_argv
from tests.support.jobs import enqueue, wait_job


def cw(stack, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(coursework_argv(*args), env=stack.env(), cwd=ROOT, capture_output=True, text=True,
                          timeout=60)


def test_jobs_show_dead_letters_and_retry(stack, api):
    # Given a job that failed permanently
    job = wait_job(api, enqueue(api, "ping", {"fail_permanent": True, "echo": "cli"})["id"])
    assert job["state"] == "failed"
    # When an operator looks at it, Then `show` prints the stored row
    shown = json.loads(cw(stack, "jobs", "show", job["id"], "--json").stdout)
    assert shown["id"] == job["id"] and shown["state"] == "failed" and shown["error"]["code"] == "ping_failed"
    # and `list --state failed` includes it
    assert job["id"] in cw(stack, "jobs", "list", "--state", "failed", "--kind", "ping", "--limit", "200").stdout
    # When the operator retries it, Then it is requeued and runs again (and fails again)
    out = cw(stack, "jobs", "retry", job["id"])
    assert out.returncode == 0 and f"requeued {job['id']}" in out.stdout
    again = wait_job(api, job["id"])
    assert again["state"] == "failed" and again["attempts"] == 1
    # retrying a job that succeeded is refused
    ok = wait_job(api, enqueue(api, "ping", {})["id"])
    refused = cw(stack, "jobs", "retry", ok["id"])
    assert refused.returncode == 1 and "can be retried; this one is succeeded" in refused.stderr


def test_dead_letters_lists_dead_lettered_jobs(stack, api):
    job = wait_job(api, enqueue(api, "ping", {"fail_transient_times": 20})["id"], timeout=120)
    assert job["state"] == "dead_lettered"
    assert job["id"] in cw(stack, "jobs", "dead-letters", "--limit", "200").stdout


def test_keys_list_and_revoke(stack, intake):
    import httpx

    created = json.loads(cw(stack, "keys", "create", "--name", "to-revoke", "--scopes", "read").stdout)
    assert created["key"].startswith("cw_") and created["scopes"] == ["read"]
    listing = cw(stack, "keys", "list").stdout
    assert created["id"] in listing and created["key"] not in listing     # only the prefix is shown
    assert cw(stack, "keys", "revoke", "--id", created["id"]).returncode == 0
    # a fresh intake (no cached key) refuses the revoked key
    url = stack.start_intake()
    r = httpx.get(f"{url}/v1/jobs", headers={"Authorization": f"Bearer {created['key']}"})
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthenticated"
