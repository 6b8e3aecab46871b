"""Every bad input gets its documented status and the one error envelope; auth scopes hold."""
from __future__ import annotations

import httpx
import pytest

from tests.support.jobs import enqueue, wait_job


def envelope(r: httpx.Response, status: int, code: str) -> dict:
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error"}, body
    err = body["error"]
    assert err["code"] == code, err
    assert isinstance(err["message"], str) and err["message"]
    assert isinstance(err["details"], list)
    return err


@pytest.fixture(scope="module")
def raw(intake):
    with httpx.Client(base_url=intake, timeout=30) as c:
        yield c


@pytest.fixture(scope="module")
def keys(stack):
    return {
        "read": stack.create_key("read", name="reader"),
        "enqueue": stack.create_key("enqueue", name="enqueuer"),
        "all": stack.create_key("enqueue,read,operate", name="op"),
    }


def auth(key: str) -> dict:
    return {"Authorization": f"Bearer {key}"}


def test_missing_and_unknown_api_keys_are_401(raw):
    envelope(raw.post("/v1/jobs", json={"kind": "ping"}), 401, "unauthenticated")
    envelope(raw.get("/v1/jobs", headers=auth("cw_not-a-key")), 401, "unauthenticated")


def test_scopes_are_enforced(raw, keys):
    envelope(raw.post("/v1/jobs", json={"kind": "ping"}, headers=auth(keys["read"])), 403, "forbidden")
    envelope(raw.get("/v1/jobs", headers=auth(keys["enqueue"])), 403, "forbidden")
    envelope(raw.post("/v1/jobs/x/retry", headers=auth(keys["enqueue"])), 403, "forbidden")


def test_malformed_json_is_400(raw, keys):
    r = raw.post("/v1/jobs", content=b'{"kind": "ping",', headers={**auth(keys["all"]),
                                                                     "content-type": "application/json"})
    envelope(r, 400, "malformed_json")


def test_non_json_content_type_is_415(raw, keys):
    r = raw.post("/v1/jobs", content=b"kind=ping", headers={**auth(keys["all"]),
                                                           "content-type": "application/x-www-form-urlencoded"})
    envelope(r, 415, "unsupported_media_type")


def test_unknown_kind_is_422_on_the_kind_field(raw, keys):
    err = envelope(raw.post("/v1/jobs", json={"kind": "mine-bitcoin", "payload": {}}, headers=auth(keys["all"])),
                   422, "unknown_kind")
    assert err["details"][0]["field"] == "kind"


def test_wrong_types_are_422_with_the_payload_field(raw, keys):
    err = envelope(raw.post("/v1/jobs", json={"kind": "ping", "payload": {"sleep": "soon"}},
                            headers=auth(keys["all"])), 422, "validation_error")
    assert [d["field"] for d in err["details"]] == ["payload.sleep"]
    err = envelope(raw.post("/v1/jobs", json={"kind": "ping", "payload": {"nope": 1}}, headers=auth(keys["all"])),
                   422, "validation_error")
    assert err["details"][0]["field"] == "payload.nope"
    err = envelope(raw.post("/v1/jobs", json={"payload": {}}, headers=auth(keys["all"])), 422, "validation_error")
    assert err["details"][0]["field"] == "kind"


def test_oversized_body_is_413(raw, keys):
    big = b'{"kind": "ping", "payload": {"echo": "' + b"x" * 1_100_000 + b'"}}'
    envelope(raw.post("/v1/jobs", content=big, headers={**auth(keys["all"]), "content-type": "application/json"}),
             413, "payload_too_large")


def test_unknown_job_is_404(raw, keys):
    envelope(raw.get("/v1/jobs/does-not-exist", headers=auth(keys["all"])), 404, "not_found")


def test_idempotency_key_same_body_same_job_and_different_body_409(api):
    # Given a key used once
    first = api.post("/v1/jobs", json={"kind": "ping", "payload": {"echo": "a"}}, headers={"Idempotency-Key": "k-1"})
    assert first.status_code == 202
    # When the same request is repeated, Then it is the same job, not a second one
    again = api.post("/v1/jobs", json={"kind": "ping", "payload": {"echo": "a"}}, headers={"Idempotency-Key": "k-1"})
    assert again.status_code == 202
    assert again.json()["job"]["id"] == first.json()["job"]["id"]
    assert again.headers.get("Idempotent-Replayed") == "true"
    # When the key comes back with another body, Then 409
    envelope(api.post("/v1/jobs", json={"kind": "ping", "payload": {"echo": "b"}}, headers={"Idempotency-Key": "k-1"}),
             409, "idempotency_conflict")


def test_list_filters_and_paginates(api):
    ids = {enqueue(api, "ping", {"echo": f"page-{i}"})["id"] for i in range(5)}
    for job_id in ids:
        wait_job(api, job_id)
    seen, cursor = [], None
    for _ in range(10):
        params = {"kind": "ping", "state": "succeeded", "limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = api.get("/v1/jobs", params=params).json()
        assert len(page["jobs"]) <= 2
        assert all(j["kind"] == "ping" and j["state"] == "succeeded" for j in page["jobs"])
        seen.extend(j["id"] for j in page["jobs"])
        cursor = page["next_cursor"]
        if not cursor or ids <= set(seen):
            break
    assert ids <= set(seen)
    assert len(seen) == len(set(seen)), "a page repeated a job"
    envelope(api.get("/v1/jobs", params={"state": "sleeping"}), 422, "validation_error")


def test_other_callers_cannot_read_my_jobs(raw, keys, api):
    job = enqueue(api, "ping", {"echo": "private"})
    other = keys["read"]
    envelope(raw.get(f"/v1/jobs/{job['id']}", headers=auth(other)), 404, "not_found")


def test_rate_limit_is_429_with_retry_after(stack, keys):
    # Given an intake allowing 3 requests a minute and a key that has not been used yet
    url = stack.start_intake(COURSEWORK_RATE_LIMIT_PER_MINUTE="3", COURSEWORK_RELAY_IN_INTAKE="false")
    fresh = stack.create_key("read", name="rate-limited")
    with httpx.Client(base_url=url, headers=auth(fresh), timeout=30) as c:
        codes = [c.get("/v1/jobs", params={"limit": 1}).status_code for _ in range(3)]
        assert codes == [200, 200, 200]
        r = c.get("/v1/jobs", params={"limit": 1})
        envelope(r, 429, "rate_limited")
        assert 1 <= int(r.headers["Retry-After"]) <= 60


def test_openapi_and_health(raw):
    spec = raw.get("/openapi.json").json()
    assert "/v1/jobs" in spec["paths"] and "post" in spec["paths"]["/v1/jobs"]
    assert raw.get("/healthz").json() == {"status": "ok"}
    ready = raw.get("/readyz")
    assert ready.status_code == 200 and ready.json()["checks"] == {"database": "ok", "redis": "ok"}
