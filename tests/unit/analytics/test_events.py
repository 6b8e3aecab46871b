from datetime import datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from domain.analytics.events import EventBatch, batch_errors, local_day


def ev(i, **kw):
    base = {"event_id": f"e{i}", "type": "login", "user_id": "u1", "occurred_at": "2026-03-01T10:00:00Z"}
    base.update(kw)
    return base


def errors_of(events):
    with pytest.raises(ValidationError) as exc:
        EventBatch.model_validate({"events": events})
    return batch_errors(exc.value.errors())


def test_each_bad_event_is_reported_with_its_index_and_field():
    events = [ev(0), ev(1), ev(2, type="video_watched", course_id="c1", lesson_id="l1"),
              ev(3, occurred_at="2026-03-01T10:00:00"), ev(4, type="quiz_graded", course_id="c1", score=140)]
    fields = {e["field"] for e in errors_of(events)}
    assert fields == {"events[2].seconds", "events[3].occurred_at", "events[4].score"}


def test_unknown_fields_and_types_are_rejected():
    errs = errors_of([ev(0), ev(1, colour="red"), ev(2, type="teleported")])
    assert [e["field"] for e in errs] == ["events[1].colour", "events[2].type"]


def test_events_in_the_future_are_rejected():
    future = (datetime.now(timezone.utc) + timedelta(days=1)).isoformat()
    errs = errors_of([ev(0), ev(1), ev(2, occurred_at=future)])
    assert [e["field"] for e in errs] == ["events[2].occurred_at"]


def test_a_valid_batch_normalises_times_to_utc():
    batch = EventBatch.model_validate({"events": [ev(0, occurred_at="2026-03-01T01:30:00+02:00")]})
    assert batch.events[0].occurred_at == datetime(2026, 2, 28, 23, 30, tzinfo=timezone.utc)


def test_local_day_uses_the_learners_zone_and_falls_back_to_utc():
    at = datetime(2026, 3, 1, 23, 30, tzinfo=timezone.utc)
    assert local_day(at, "Asia/Tokyo").isoformat() == "2026-03-02"
    assert local_day(at, "America/Los_Angeles").isoformat() == "2026-03-01"
    assert local_day(at, "Not/AZone").isoformat() == "2026-03-01"
