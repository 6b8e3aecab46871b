"""The same rollups on SQLite (the embedded demo's database): multi-row insert, key tables,
late events, and incremental == full recompute."""
from datetime import date
from functools import partial

from cli.services import migrate
from domain.analytics import rollup
from domain.analytics.models import CourseDay, LearnerStats
from domain.db import session_factory, unit_of_work
from tests.integration.analytics.fixture import Fixture


def test_rollups_on_sqlite(tmp_path):
    url = f"sqlite:///{tmp_path / 'cw.db'}"
    migrate(url)
    fx = Fixture(url)
    batch = fx.first_batch()
    assert fx.ingest(batch)["inserted"] == 14
    assert fx.ingest(batch)["duplicates"] == 14
    rollup.run(partial(unit_of_work, url))
    fx.ingest(fx.late_batch())
    assert rollup.run(partial(unit_of_work, url))["events"] == 2
    incremental = rollup.snapshot(url)
    with session_factory(url)() as s:
        d2 = s.get(CourseDay, (fx.c1, date(2026, 3, 2)))
        tokyo = s.get(LearnerStats, fx.tokyo)
    assert (d2.enrollments, d2.active_learners, d2.avg_quiz_score, d2.completion_rate) == (2, 2, 70.0, 0.5)
    assert (tokyo.first_active_day, tokyo.current_streak, tokyo.longest_streak, tokyo.lessons_completed) == \
        (date(2026, 2, 27), 3, 3, 2)
    rollup.run(partial(unit_of_work, url), full=True)
    assert rollup.snapshot(url) == incremental
