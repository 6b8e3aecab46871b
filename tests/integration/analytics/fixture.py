"""A hand-computed set of learning events (expected rollups written out in the tests)."""
from __future__ import annotations

import secrets

from domain.analytics import ingest
from domain.analytics.events import EventBatch
from domain.core.models import User
from domain.db import unit_of_work


class Fixture:
    def __init__(self, url: str):
        self.url = url
        self.tag = secrets.token_hex(3)
        self.tokyo, self.la, self.utc = f"tokyo{self.tag}", f"la{self.tag}", f"utc{self.tag}"
        self.c1, self.topic = f"c1{self.tag}", f"loops{self.tag}"
        self.n = 0
        with unit_of_work(url) as s:
            for uid, tz in ((self.tokyo, "Asia/Tokyo"), (self.la, "America/Los_Angeles"), (self.utc, "UTC")):
                s.add(User(id=uid, email=f"{uid}@example.test", name=uid, timezone=tz, weekly_goal_minutes=30))

    def ev(self, type_: str, user: str, at: str, **kw) -> dict:
        self.n += 1
        return {"event_id": f"{self.tag}-{self.n}", "type": type_, "user_id": user, "occurred_at": at, **kw}

    def first_batch(self) -> list[dict]:
        t, la, c1, topic = self.tokyo, self.la, self.c1, self.topic
        return [
            self.ev("enrollment", t, "2026-03-02T01:00:00Z", course_id=c1),
            self.ev("enrollment", la, "2026-03-02T18:00:00Z", course_id=c1),
            self.ev("lesson_completed", t, "2026-03-02T02:00:00Z", course_id=c1, lesson_id="l1"),
            self.ev("video_watched", la, "2026-03-02T19:00:00Z", course_id=c1, lesson_id="l1", seconds=600),
            self.ev("quiz_graded", t, "2026-03-02T03:00:00Z", course_id=c1, score=80),
            self.ev("quiz_graded", la, "2026-03-02T20:00:00Z", course_id=c1, score=60),
            self.ev("coupon_used", la, "2026-03-02T18:01:00Z", course_id=c1, coupon_code="SPRING"),
            self.ev("lesson_completed", la, "2026-03-03T05:00:00Z", course_id=c1, lesson_id="l2"),  # LA: Mar 2 21:00
            self.ev("video_watched", t, "2026-03-03T16:00:00Z", course_id=c1, lesson_id="l1", seconds=300),  # Tokyo: Mar 4
            self.ev("submission_evaluated", t, "2026-03-03T01:00:00Z", exercise_id="ex1", topic=topic, score=50),
            self.ev("submission_evaluated", t, "2026-03-03T02:00:00Z", exercise_id="ex1", topic=topic, score=90),
            self.ev("submission_evaluated", t, "2026-03-03T03:00:00Z", exercise_id="ex2", topic=topic, score=70),
            self.ev("submission_evaluated", la, "2026-03-03T10:00:00Z", exercise_id="ex1", topic=topic, score=100),
            self.ev("login", self.utc, "2026-03-03T00:00:00Z"),
        ]

    def late_batch(self) -> list[dict]:
        return [
            # late: five days before what was already rolled up
            self.ev("lesson_completed", self.tokyo, "2026-02-27T12:00:00Z", course_id=self.c1, lesson_id="l0"),
            # LA: Mar 5 local, after a gap on Mar 4
            self.ev("lesson_started", self.la, "2026-03-05T20:00:00Z", course_id=self.c1, lesson_id="l3"),
        ]

    def ingest(self, events: list[dict]) -> dict:
        with unit_of_work(self.url) as s:
            return ingest.ingest(s, EventBatch.model_validate({"events": events}).events)
