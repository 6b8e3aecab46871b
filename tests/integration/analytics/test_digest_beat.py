"""The daily digest beat task on PostgreSQL, with a frozen clock stepped like beat ticks
across both DST changes: one digest (row + domain event) per learner per local date."""
import secrets
from datetime import date, datetime, timedelta, timezone

import time_machine
from sqlalchemy import select

from celeryconfig import settings
from domain.analytics.models import LearnerDigest
from domain.core.models import User
from domain.db import unit_of_work
from domain.jobs.models import JobEvent
from tasks.analytics import daily_learner_digest


def tick(start: datetime, end: datetime, step=timedelta(minutes=10)) -> None:
    with time_machine.travel(start, tick=False) as clock:
        while datetime.now(timezone.utc) <= end:
            daily_learner_digest()
            clock.shift(step)


def digests(db, user_id):
    with db() as s:
        return [(d.local_date, d.sent_at) for d in s.scalars(select(LearnerDigest).where(LearnerDigest.user_id == user_id))]


def test_digest_fires_once_per_local_date_across_dst(database, db, monkeypatch):
    # Given learners in Berlin and New York and a digest at 02:30 local time
    monkeypatch.setattr(settings, "analytics_digest_local_time", "02:30")
    tag = secrets.token_hex(3)
    berlin, ny = f"ber{tag}", f"nyc{tag}"
    with unit_of_work(database.url) as s:
        s.add(User(id=berlin, email=f"{berlin}@example.test", name="b", timezone="Europe/Berlin"))
        s.add(User(id=ny, email=f"{ny}@example.test", name="n", timezone="America/New_York"))

    # When beat ticks through Berlin's autumn night, where 02:30 happens twice (00:30Z and 01:30Z)
    tick(datetime(2026, 10, 24, 23, 0, tzinfo=timezone.utc), datetime(2026, 10, 25, 2, 0, tzinfo=timezone.utc))
    # Then Berlin got exactly one digest, at the first 02:30 (CEST)
    assert digests(db, berlin) == [(date(2026, 10, 25), datetime(2026, 10, 25, 0, 30, tzinfo=timezone.utc))]

    # When beat ticks through New York's spring night, where 02:30 never happens
    tick(datetime(2026, 3, 8, 5, 0, tzinfo=timezone.utc), datetime(2026, 3, 8, 9, 0, tzinfo=timezone.utc))
    # Then New York got one digest at 03:00 EDT (07:00Z), the first moment past 02:30
    assert (date(2026, 3, 8), datetime(2026, 3, 8, 7, 0, tzinfo=timezone.utc)) in digests(db, ny)
    assert [d for d, _ in digests(db, ny)].count(date(2026, 3, 8)) == 1
    # and every digest is also a domain event for the learner
    with db() as s:
        events = s.scalars(select(JobEvent).where(JobEvent.user_id == berlin,
                                                  JobEvent.type == "learner.daily_digest")).all()
    assert sorted(e.data["local_date"] for e in events) == sorted(d.isoformat() for d, _ in digests(db, berlin))
    assert len(events) == 2    # Oct 25, and Mar 8 (already past 02:30 in Berlin when the spring ticks ran)
