"""Scripted learner histories, written through the domain layer: learning events (ingested and
rolled up, so streaks are the analytics family's own), course grades and completed peer reviews."""
from __future__ import annotations

import secrets
from datetime import datetime, timedelta, timezone
from functools import partial

from domain.analytics import ingest, rollup
from domain.analytics.events import EventBatch
from domain.core.models import Course, User
from domain.db import new_id, unit_of_work, utcnow
from domain.grading.models import Assignment, CourseGrade, PeerReview, Submission

# a fixed past date before the other families' fixtures (the analytics tests' trending window
# follows the newest events in the session's database)
BASE = datetime(2025, 6, 2, 12, tzinfo=timezone.utc)


class History:
    def __init__(self, url: str):
        self.url, self.tag, self.n = url, secrets.token_hex(3), 0

    def learner(self, tz: str = "UTC") -> str:
        uid = f"ach{self.tag}{self.n}"
        self.n += 1
        with unit_of_work(self.url) as s:
            s.add(User(id=uid, email=f"{uid}@example.test", name=uid, timezone=tz))
        return uid

    def _event(self, uid: str, type_: str, at: datetime, **kw) -> dict:
        self.n += 1
        return {"event_id": f"{self.tag}-{self.n}", "type": type_, "user_id": uid, "occurred_at": at.isoformat(),
                "course_id": kw.pop("course_id", f"course{self.tag}"), **kw}

    def events(self, events: list[dict]) -> None:
        with unit_of_work(self.url) as s:
            ingest.ingest(s, EventBatch.model_validate({"events": events}).events)

    def lessons(self, uid: str, days: int, *, at_hour_utc: int = 12, start: datetime = BASE) -> None:
        """A lesson completed on each of ``days`` consecutive days, at that UTC hour."""
        self.events([self._event(uid, "lesson_completed", start.replace(hour=at_hour_utc) + timedelta(days=d),
                                 lesson_id=f"l{d}") for d in range(days)])

    def scores(self, uid: str, values: list[float], type_: str = "quiz_graded") -> None:
        self.events([self._event(uid, type_, BASE + timedelta(hours=i), score=v) for i, v in enumerate(values)])

    def passed(self, uid: str, courses: int, passed: bool = True) -> list[str]:
        ids = []
        with unit_of_work(self.url) as s:
            for _ in range(courses):
                cid = new_id()
                s.add(CourseGrade(user_id=uid, course_id=cid, percent=80.0 if passed else 40.0, letter="B",
                                  passed=passed, computed_at=utcnow()))
                ids.append(cid)
        return ids

    def peer_reviews(self, reviewer: str, n: int, completed: bool = True) -> None:
        with unit_of_work(self.url) as s:
            course = Course(slug=f"peer-{self.tag}-{self.n}", title="Peer course")
            self.n += 1
            s.add(course)
            s.flush()
            assignment = Assignment(course_id=course.id, title="Essay", rubric=[], late_policy={})
            s.add(assignment)
            s.flush()
            for i in range(n):
                author = User(id=new_id(), email=f"{new_id()}@example.test", name=f"author{i}")
                s.add(author)
                s.flush()
                sub = Submission(assignment_id=assignment.id, user_id=author.id, status="submitted")
                s.add(sub)
                s.flush()
                s.add(PeerReview(submission_id=sub.id, reviewer_id=reviewer, rating=4.0,
                                 completed_at=utcnow() if completed else None))

    def roll_up(self) -> None:
        rollup.run(partial(unit_of_work, self.url))
