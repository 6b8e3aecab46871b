"""Bulk retry / cancel by filter with a dry run first, the streamed export, and the CLI's
tables, JSON, filter errors and `jobs watch`, on the shared stack. Each test's jobs belong to
an API key of its own, so the caller filter isolates them from every other test's."""
from __future__ import annotations

import csv
import io
import json
import subprocess

import pytest

from cli.services import ROOT, coursework_argv
from tests.support.jobs import enqueue, run_job, wait_job


def cw(stack, *args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(coursework_argv(*args), env=stack.env(**env), cwd=ROOT, capture_output=True, text=True,
                          timeout=120)


@pytest.fixture
def own(stack, intake, worker):
    """A fresh API key (its id is the caller of the jobs it enqueues) and a client with it."""
    out = json.loads(cw(stack, "keys", "create", "--name", "bulk", "--scopes", "enqueue,read,operate").stdout)
    with stack.client(out["key"]) as client:
        yield out["id"], out["key"], client


def test_bulk_retry_counts_first_then_requeues_only_the_matching_jobs(own, stack):
    caller, _, api = own
    # Given three failed jobs and one that succeeded, all of one caller
    failed = [run_job(api, "ping", {"fail_permanent": True, "echo": str(i)}) for i in range(3)]
    assert all(j["state"] == "failed" for j in failed)
    ok = run_job(api, "ping", {})
    # When an operator asks for a dry run of a bulk retry of that caller's failed jobs
    body = {"caller": caller, "state": "failed", "kind": "ping"}
    dry = api.post("/v1/ops/jobs/retry", json=body)
    # Then it counts three and changes nothing
    assert dry.status_code == 200 and dry.json()["matched"] == 3 and dry.json()["changed"] == 0, dry.text
    assert all(api.get(f"/v1/jobs/{j['id']}").json()["job"]["state"] == "failed" for j in failed)
    # And the error code and time range filters narrow it (no job failed with another code, none before now-1h)
    assert api.post("/v1/ops/jobs/retry", json={"caller": caller, "error_code": "ping_failed"}).json()["matched"] == 3
    assert api.post("/v1/ops/jobs/retry", json={"caller": caller, "error_code": "other"}).json()["matched"] == 0
    early = {"caller": caller, "until": failed[0]["created_at"]}
    assert api.post("/v1/ops/jobs/retry", json=early).json()["matched"] == 0
    # And the CLI's dry run says the same
    out = cw(stack, "jobs", "bulk-retry", "--caller", caller, "--state", "failed", "--dry-run")
    assert out.returncode == 0 and "dry run: 3 job(s) would be retried" in out.stdout, out
    # When the operator confirms (dry_run false)
    done = api.post("/v1/ops/jobs/retry", json={**body, "dry_run": False})
    assert done.json()["changed"] == 3, done.text
    # Then the three ran again (and failed again, attempts reset), and the succeeded job was untouched
    for j in failed:
        again = wait_job(api, j["id"])
        assert again["state"] == "failed" and again["attempts"] == 1 and again["finished_at"] != j["finished_at"]
    assert api.get(f"/v1/jobs/{ok['id']}").json()["job"]["finished_at"] == ok["finished_at"]


def test_bulk_cancel_and_filters_that_cannot_mean_anything(own, stack):
    caller, _, api = own
    # Given two long jobs of one caller
    jobs = [enqueue(api, "ping", {"sleep": 60}) for _ in range(2)]
    # When an operator cancels that caller's jobs in bulk (CLI, confirmed with --yes)
    out = cw(stack, "jobs", "bulk-cancel", "--caller", caller, "--yes", "--json")
    assert out.returncode == 0 and json.loads(out.stdout)["changed"] == 2, out
    # Then both end cancelled
    assert all(wait_job(api, j["id"], timeout=30)["state"] == "cancelled" for j in jobs)
    # And filters that cannot mean anything are refused with what was wrong
    r = api.post("/v1/ops/jobs/retry", json={"state": "running"})
    assert r.status_code == 422 and r.json()["error"]["details"][0]["field"] == "state", r.text
    r = api.post("/v1/ops/jobs/cancel", json={"kind": "nope"})
    assert r.status_code == 422 and "unknown kind" in r.json()["error"]["message"], r.text
    bad = cw(stack, "jobs", "list", "--state", "bogus")
    assert bad.returncode == 2 and "--state: unknown state 'bogus'" in bad.stderr, bad
    bad = cw(stack, "jobs", "bulk-retry", "--since", "yesterday-ish")
    assert bad.returncode == 2 and "neither an ISO 8601 time nor an age" in bad.stderr, bad


def test_export_streams_json_lines_and_csv_and_the_cli_lists_with_headers(own, stack):
    caller, _, api = own
    a = run_job(api, "ping", {"echo": "export"})
    b = run_job(api, "ping", {"fail_permanent": True})
    # When an operator exports that caller's jobs as JSON lines and as CSV
    lines = api.get("/v1/ops/jobs/export", params={"caller": caller, "payload": "true"})
    assert lines.status_code == 200 and lines.headers["content-type"].startswith("application/x-ndjson")
    rows = [json.loads(line) for line in lines.text.splitlines()]
    assert [r["id"] for r in rows] == [a["id"], b["id"]] and rows[0]["payload"]["echo"] == "export"
    assert rows[1]["error_code"] == "ping_failed"
    table = api.get("/v1/ops/jobs/export", params={"caller": caller, "format": "csv"})
    assert table.headers["content-type"].startswith("text/csv")
    parsed = list(csv.DictReader(io.StringIO(table.text)))
    assert [r["id"] for r in parsed] == [a["id"], b["id"]] and parsed[1]["state"] == "failed"
    # And the CLI lists them in a table with headers, relative and absolute times, the caller
    out = cw(stack, "jobs", "list", "--caller", caller)
    assert out.returncode == 0, out
    assert all(h in out.stdout for h in ("ID", "KIND", "STATE", "CALLER", "CREATED")), out.stdout
    assert a["id"] in out.stdout and " ago (" in out.stdout and caller in out.stdout
    listed = json.loads(cw(stack, "jobs", "list", "--caller", caller, "--json").stdout)
    assert {j["id"] for j in listed} == {a["id"], b["id"]}
    assert json.loads(cw(stack, "jobs", "show", b["id"], "--json").stdout)["error"]["code"] == "ping_failed"
    health = json.loads(cw(stack, "queues", "--json").stdout)
    assert {q["queue"] for q in health} >= {"maintenance", "video"}
    missing = cw(stack, "jobs", "show")
    assert missing.returncode == 2 and "the following arguments are required: id" in missing.stderr


def test_jobs_watch_follows_the_stream_and_exits_with_the_outcome(own, stack, intake):
    _, key, api = own
    long = enqueue(api, "ping", {"sleep": 3})
    out = cw(stack, "jobs", "watch", long["id"], "--url", intake, "--key", key)
    assert out.returncode == 0 and "succeeded" in out.stderr, out
    failing = enqueue(api, "ping", {"fail_permanent": True})
    out = cw(stack, "jobs", "watch", failing["id"], "--url", intake, "--json", COURSEWORK_API_KEY=key)
    assert out.returncode == 1, out
    types = [json.loads(line)["type"] for line in out.stdout.splitlines()]
    assert types[-1] == "job.failed" and "job.running" in types, types
