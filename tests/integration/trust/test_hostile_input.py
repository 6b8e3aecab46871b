"""Odd input on every family's routes: a 4xx with the error envelope, never a 500.

The inputs are the ones an attacker tries first: NUL and control characters, deep nesting,
huge integers, NaN, datetimes outside any sensible window, ids of the wrong form."""
from __future__ import annotations

import httpx
import pytest

NUL = "a\x00b"


@pytest.fixture(scope="module")
def c(stack, intake, api_key):
    with httpx.Client(base_url=intake, timeout=30, headers={"Authorization": f"Bearer {api_key}"}) as client:
        yield client


def refused(r: httpx.Response, *statuses: int) -> dict:
    assert 400 <= r.status_code < 500, (r.status_code, r.text)
    if statuses:
        assert r.status_code in statuses, (r.status_code, r.text)
    body = r.json()
    assert set(body) == {"error"} and body["error"]["code"] and isinstance(body["error"]["details"], list), body
    return body["error"]


POSTS = [
    ("/v1/jobs", {"kind": "ping", "payload": {"echo": NUL}}),
    ("/v1/jobs", {"kind": "notify", "payload": {"user_id": "u1", "type": "direct_message", "data": {"k": NUL}}}),
    ("/v1/tutor/sessions", {"user_id": "u1", "course_id": "c1", "topic": NUL}),
    ("/v1/tutor/sessions/abc/messages", {"content": NUL}),
    ("/v1/videos", {"lesson_id": "l1", "filename": NUL, "content_type": "video/mp4", "size_bytes": 10}),
    ("/v1/submissions", {"exercise_id": "e1", "user_id": "u1", "language": "python", "code": NUL}),
    ("/v1/events", {"events": [{"event_id": "e1", "type": "login", "user_id": "u1",
                                "occurred_at": "2024-01-01T00:00:00Z", "topic": NUL}]}),
]


@pytest.mark.parametrize("path,body", POSTS, ids=[p for p, _ in POSTS])
def test_nul_in_any_string_is_422(c, path, body):
    refused(c.post(path, json=body), 422)


@pytest.mark.parametrize("path", ["/v1/jobs/%00", "/v1/certificates/CW-%00/verify", "/v1/submissions/%00",
                                  "/v1/videos/%00", "/v1/users/%00/notifications", "/v1/tutor/sessions/%01"])
def test_control_characters_in_the_path_are_404(c, path):
    refused(c.get(path), 404)


@pytest.mark.parametrize("path", ["/v1/jobs/" + "x" * 500, "/v1/jobs/not-an-id",
                                  "/v1/submissions/" + "9" * 40, "/v1/videos/..%2F..%2Fetc"])
def test_ids_of_the_wrong_form_are_404_or_422(c, path):
    refused(c.get(path), 404, 422)


def test_query_strings_with_control_characters_are_422(c):
    refused(c.get("/v1/jobs", params={"kind": NUL}), 422)
    refused(c.get("/v1/certificates", params={"course_id": "a\x07"}), 422)


@pytest.mark.parametrize("raw", [
    b'{"kind": "ping", "payload": {"sleep": NaN}}',
    b'{"kind": "ping", "payload": {"sleep": Infinity}}',
    b'{"kind": "ping", "payload": {"x": ' + b"[" * 1000 + b"]" * 1000 + b"}}",
    b'{"kind": "ping", "payload": {"fail_transient_times": 1' + b"0" * 4400 + b"}}",
    b'{"kind": "ping", "payload": {"fail_transient_times": 99999999999999999999}}',
])
def test_json_outside_what_intake_accepts_is_4xx(c, raw):
    refused(c.post("/v1/jobs", content=raw, headers={"content-type": "application/json"}), 400, 422)


@pytest.mark.parametrize("run_at", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-12:00",
                                    "1970-01-01T00:00:00Z", "2030-01-01T00:00:00"])
def test_run_at_outside_the_window_is_422_and_listing_still_works(c, run_at):
    refused(c.post("/v1/jobs", json={"kind": "ping", "run_at": run_at}), 422)
    assert c.get("/v1/jobs").status_code == 200


def test_event_times_outside_the_window_are_422(c):
    event = {"event_id": "old-1", "type": "login", "user_id": "u1", "occurred_at": "0001-01-01T00:00:00+14:00"}
    refused(c.post("/v1/events", json={"events": [event]}), 422)
