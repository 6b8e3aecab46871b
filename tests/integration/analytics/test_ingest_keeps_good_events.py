"""Accepted means written: a batch that meets an event it cannot write (intake refuses such
events; this is the worker's last line) writes the good ones and reports the bad, on
PostgreSQL and SQLite; the rollup reports true counts."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from functools import partial

import pytest
from sqlalchemy import func, select

from domain.analytics import rollup
from domain.analytics.events import EventBatch
from domain.analytics.models import LearningEvent
from domain.db import unit_of_work
from tests.integration.analytics.fixture import Fixture


def _batch_with_a_year_one_event(fx: Fixture) -> tuple[list, str]:
    events = EventBatch.model_validate({"events": fx.first_batch()}).events
    bad = events[3].model_copy(update={"occurred_at": datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=14)))})
    return [*events[:3], bad, *events[4:]], bad.event_id


@pytest.fixture
def url(db_url):
    return db_url


def test_one_unwritable_event_does_not_lose_its_batch(url):
    # Given a batch of 14 events, one of them dated year 1 at +14:00 (it overflows in UTC)
    fx = Fixture(url)
    events, bad_id = _batch_with_a_year_one_event(fx)
    # When the ingest job writes it
    from domain.analytics import ingest

    with unit_of_work(url) as s:
        result = ingest.ingest(s, events)
    # Then the 13 good events are written and the bad one is reported by its id
    assert (result["received"], result["inserted"], result["rejected"]) == (14, 13, 1)
    assert [r["event_id"] for r in result["rejected_events"]] == [bad_id]
    assert "OverflowError" in result["rejected_events"][0]["error"]
    with unit_of_work(url) as s:
        ids = set(s.scalars(select(LearningEvent.event_id).where(LearningEvent.event_id.like(f"{fx.tag}-%"))))
    assert len(ids) == 13 and bad_id not in ids


def test_a_full_rollup_reports_how_many_learners_it_wrote(url):
    # Given the fixture's events (3 learners)
    fx = Fixture(url)
    fx.ingest(fx.first_batch())
    # When a full rollup runs
    result = rollup.run(partial(unit_of_work, url), full=True)
    # Then its learners count is the learners' stats rows it wrote, never a driver's -1
    from domain.analytics.models import LearnerStats

    with unit_of_work(url) as s:
        assert result["learners"] == s.scalar(select(func.count()).select_from(LearnerStats)) >= 3
