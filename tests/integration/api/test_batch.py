"""POST /v1/jobs/batch: one outcome per job, the accepted ones in one transaction, all run."""
from __future__ import annotations

import secrets

import httpx
import pytest

from coursework_client import Client
from tests.support.jobs import wait_job
from tests.support.openapi import errors


@pytest.fixture(scope="module")
def enqueuer(stack, intake, worker):
    key = stack.create_key("enqueue,read", name=f"batch-{secrets.token_hex(3)}")
    with stack.client(key) as client:
        yield client, key


def test_one_outcome_per_job_and_the_accepted_ones_committed_together(enqueuer, db):
    from domain.jobs.models import Job

    api, _ = enqueuer
    tag = secrets.token_hex(4)
    taken = api.post("/v1/jobs", json={"kind": "ping", "payload": {"echo": "before"}},
                     headers={"Idempotency-Key": f"{tag}-taken"})
    assert taken.status_code == 202
    jobs = [
        {"kind": "ping", "payload": {"echo": "a"}, "idempotency_key": f"{tag}-a"},        # created
        {"kind": "ping", "payload": {"echo": "b"}},                                     # created, no key
        {"kind": "ping", "payload": {"echo": "a"}, "idempotency_key": f"{tag}-a"},        # same key, same job
        {"kind": "ping", "payload": {"echo": "before"}, "idempotency_key": f"{tag}-taken"},   # replayed
        {"kind": "ping", "payload": {"echo": "other"}, "idempotency_key": f"{tag}-taken"},    # 409
        {"kind": "ping", "payload": {"sleep": "soon"}},                                 # 422 payload
        {"kind": "mine-bitcoin"},                                                        # 422 kind
        {"kind": "rollup", "payload": {}},                                              # 403: needs operate
        {"kind": "transcode", "payload": {"asset_id": "no-such-asset"}},               # 422 data check
        {"kind": "ping", "payload": {}, "run_at": "2026-01-05T18:00:00"},              # 422 naive time
    ]
    r = api.post("/v1/jobs/batch", json={"jobs": jobs})
    assert r.status_code == 200, r.text
    body = r.json()
    assert not errors("BatchAccepted", body), errors("BatchAccepted", body)
    got = [(i["index"], i["status"], i["outcome"]) for i in body["items"]]
    assert got == [(0, 202, "created"), (1, 202, "created"), (2, 202, "replayed"), (3, 202, "replayed"),
                   (4, 409, "conflict"), (5, 422, "invalid"), (6, 422, "invalid"), (7, 403, "forbidden"),
                   (8, 422, "invalid"), (9, 422, "invalid")]
    items = body["items"]
    assert items[2]["job"]["id"] == items[0]["job"]["id"]
    assert items[3]["job"]["id"] == taken.json()["job"]["id"]
    assert [d["field"] for d in items[5]["error"]["details"]] == ["payload.sleep"]
    assert items[8]["error"]["details"][0]["field"] == "asset_id"
    assert (body["created"], body["replayed"], body["failed"]) == (2, 2, 6)
    # the created jobs were written by one statement of one transaction: the same created_at
    created = [items[0]["job"]["id"], items[1]["job"]["id"]]
    with db() as s:
        stamps = {s.get(Job, j).created_at for j in created}
    assert len(stamps) == 1
    for job_id in created:
        assert wait_job(api, job_id)["state"] == "succeeded"


def test_the_batch_limit_is_enforced_with_the_envelope(enqueuer):
    from celeryconfig import settings

    api, _ = enqueuer
    r = api.post("/v1/jobs/batch", json={"jobs": [{"kind": "ping"}] * (settings.jobs_batch_max + 1)})
    assert r.status_code == 422 and r.json()["error"]["details"][0]["field"] == "jobs"
    r = api.post("/v1/jobs/batch", json={"jobs": []})
    assert r.status_code == 422
    r = httpx.post(f"{api.base_url}/v1/jobs/batch", json={"jobs": [{"kind": "ping"}]})
    assert r.status_code == 401


def test_the_client_sends_batches_with_a_key_per_job_so_a_retry_is_harmless(enqueuer, intake):
    _, key = enqueuer
    jobs = [{"kind": "ping", "payload": {"echo": f"m{i}"}} for i in range(1100)]
    with Client(intake, key) as cw:
        first = cw.enqueue_many(jobs)
        assert [i.index for i in first] == list(range(1100)) and {i.outcome for i in first} == {"created"}
        # the same jobs with the keys the client gave them: every one replayed, none twice
        keyed = [{**j, "idempotency_key": i.job.idempotency_key} for j, i in zip(jobs, first)]
        again = cw.enqueue_many(keyed)
        assert {i.outcome for i in again} == {"replayed"}
        assert [i.job.id for i in again] == [i.job.id for i in first]
        assert cw.wait(first[-1].job.id, timeout=120).state == "succeeded"
