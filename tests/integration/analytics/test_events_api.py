"""End to end through intake and a real worker: batch ingestion (all or nothing), rollup,
read endpoints, and the report job's CSV + PNG behind presigned URLs."""
import csv
import io

import httpx
from sqlalchemy import func, select

from domain.analytics.models import LearningEvent
from tests.integration.analytics.fixture import Fixture
from tests.support.jobs import run_job, wait_job


def stored(db, tag: str) -> int:
    with db() as s:
        return s.scalar(select(func.count()).select_from(LearningEvent).where(LearningEvent.event_id.like(f"{tag}-%")))


def test_a_bad_batch_is_rejected_whole_with_index_and_field(api, database, db):
    # Given a batch whose events 1 and 3 are malformed
    fx = Fixture(database.url)
    events = fx.first_batch()
    del events[3]["seconds"]                                   # a video_watched without seconds
    events[1]["occurred_at"] = "yesterday"
    # When it is posted
    r = api.post("/v1/events", json={"events": events})
    # Then 422 names each bad event by index and field, and nothing of the batch was written
    assert r.status_code == 422, r.text
    err = r.json()["error"]
    assert err["code"] == "validation_error"
    assert {d["field"] for d in err["details"]} == {"events[1].occurred_at", "events[3].seconds"}
    assert stored(db, fx.tag) == 0
    # and a batch over the configured limit is refused before anything else
    too_many = [fx.ev("login", fx.utc, "2026-03-03T00:00:00Z") for _ in range(1001)]
    r = api.post("/v1/events", json={"events": too_many})
    assert r.status_code == 422 and r.json()["error"]["details"][0]["field"] == "events"
    assert stored(db, fx.tag) == 0


def test_events_to_rollups_to_read_api_and_report(api, database, db):
    # Given a valid batch posted to intake
    fx = Fixture(database.url)
    batch = fx.first_batch()
    r = api.post("/v1/events", json={"events": batch})
    assert r.status_code == 202, r.text
    assert r.json()["accepted"] == 14
    job = wait_job(api, r.json()["job"]["id"])
    # Then the worker wrote it in bulk; a resent batch adds nothing
    assert job["state"] == "succeeded" and job["result"]["inserted"] == 14, job
    again = wait_job(api, api.post("/v1/events", json={"events": batch}).json()["job"]["id"])
    assert again["result"] == {"received": 14, "inserted": 0, "duplicates": 14, "rejected": 0}
    assert stored(db, fx.tag) == 14

    # When a rollup job runs
    roll = run_job(api, "rollup", {})
    assert roll["state"] == "succeeded", roll

    # Then the read endpoints answer from the rollup tables
    course = api.get(f"/v1/analytics/courses/{fx.c1}").json()
    assert [d["day"] for d in course["days"]] == ["2026-03-02", "2026-03-03"]
    assert course["totals"]["enrollments"] == 2 and course["totals"]["avg_quiz_score"] == 70.0
    assert course["popularity"]["rank"] >= 1
    learner = api.get(f"/v1/analytics/learners/{fx.tokyo}").json()
    assert (learner["longest_streak"], learner["lessons_completed"], learner["timezone"]) == (3, 1, "Asia/Tokyo")
    board = api.get("/v1/analytics/leaderboard", params={"topic": fx.topic}).json()
    assert [(e["user_id"], e["points"]) for e in board["entries"]] == [(fx.tokyo, 160.0), (fx.la, 100.0)]
    assert api.get("/v1/analytics/courses/nosuchcourse").status_code == 404
    platform = api.get("/v1/analytics/platform", params={"start": "2026-03-02", "end": "2026-03-02"}).json()
    assert platform["totals"]["enrollments"] >= 2

    # When a report is asked for
    rep = run_job(api, "report", {"report": "course_popularity", "start": "2026-03-01", "end": "2026-03-31",
                                  "course_id": fx.c1})
    assert rep["state"] == "succeeded", rep
    # Then its CSV and PNG are behind presigned URLs
    rows = list(csv.reader(io.StringIO(httpx.get(rep["result"]["csv_url"], timeout=10).text)))
    assert rows[0][:3] == ["course_id", "enrollments", "active_learner_days"]
    assert rows[1][:4] == [fx.c1, "2", "4", "2"]
    png = httpx.get(rep["result"]["chart_url"], timeout=10)
    assert png.status_code == 200 and png.content[:8] == b"\x89PNG\r\n\x1a\n"
    # and a bad range never reaches the queue
    r = api.post("/v1/jobs", json={"kind": "report", "payload": {"report": "learner_progress",
                                                                 "start": "2026-03-05", "end": "2026-03-01"}})
    assert r.status_code == 422 and r.json()["error"]["details"][0]["field"].startswith("payload")
