"""What the running intake answers matches what its OpenAPI document says, checked with
jsonschema against the document (not against the pydantic models it came from)."""
from __future__ import annotations

import secrets

import httpx

from tests.support.jobs import wait_job
from tests.support.openapi import errors, response_component


def check(r: httpx.Response, method: str, path: str) -> dict:
    component = response_component(method, path, r.status_code)
    body = r.json()
    assert not errors(component, body), (component, errors(component, body))
    return body


def test_job_routes_answer_their_documented_models(api):
    key = f"spec-{secrets.token_hex(4)}"
    r = api.post("/v1/jobs", json={"kind": "ping", "payload": {"echo": "spec"}}, headers={"Idempotency-Key": key})
    assert r.status_code == 202
    job = check(r, "post", "/v1/jobs")["job"]
    replay = api.post("/v1/jobs", json={"kind": "ping", "payload": {"echo": "spec"}}, headers={"Idempotency-Key": key})
    assert replay.headers["Idempotent-Replayed"] == "true"
    check(replay, "post", "/v1/jobs")
    wait_job(api, job["id"])
    check(api.get(f"/v1/jobs/{job['id']}"), "get", "/v1/jobs/{job_id}")
    check(api.get("/v1/jobs", params={"limit": 2}), "get", "/v1/jobs")
    kinds = check(api.get("/v1/kinds"), "get", "/v1/kinds")
    assert {k["name"] for k in kinds["kinds"]} >= {"ping", "transcode"}


def test_error_answers_match_the_documented_envelope(api, intake):
    cases = [
        (httpx.post(f"{intake}/v1/jobs", json={"kind": "ping"}), "post", "/v1/jobs", 401),
        (api.get("/v1/jobs/nope"), "get", "/v1/jobs/{job_id}", 404),
        (api.post("/v1/jobs", json={"kind": "ping", "payload": {"sleep": "x"}}), "post", "/v1/jobs", 422),
        (api.post("/v1/jobs", content=b"{", headers={"content-type": "application/json"}), "post", "/v1/jobs", 400),
        (api.post("/v1/jobs", content=b"k=v", headers={"content-type": "text/plain"}), "post", "/v1/jobs", 415),
    ]
    for r, method, path, status in cases:
        assert r.status_code == status, (path, r.text)
        check(r, method, path)
    k = "conflict-" + secrets.token_hex(4)
    assert api.post("/v1/jobs", json={"kind": "ping"}, headers={"Idempotency-Key": k}).status_code == 202
    r = api.post("/v1/jobs", json={"kind": "ping", "payload": {"echo": "other"}}, headers={"Idempotency-Key": k})
    assert r.status_code == 409
    check(r, "post", "/v1/jobs")
