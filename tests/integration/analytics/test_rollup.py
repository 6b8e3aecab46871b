"""Rollups on PostgreSQL against a hand-computed fixture: late events, idempotent reruns,
learner days in the learner's own time zone."""
from datetime import date, datetime, timezone
from functools import partial

from sqlalchemy import select, update

from domain.analytics import queries, rollup
from domain.analytics.models import CourseDay, LearnerStats, LearningEvent, PlatformDay, RollupState, TopicScore
from domain.db import session_factory, unit_of_work
from tests.integration.analytics.fixture import Fixture


def course_days(db, course_id):
    with db() as s:
        return {r.day: r for r in s.scalars(select(CourseDay).where(CourseDay.course_id == course_id))}


def test_rollup_matches_the_hand_computed_fixture_and_folds_late_events(database, db):
    # Given the fixture's first batch, ingested through the bulk path (COPY) and rolled up
    fx = Fixture(database.url)
    assert fx.ingest(fx.first_batch())["inserted"] == 14
    first = rollup.run(partial(unit_of_work, database.url))
    assert first["mode"] == "incremental" and first["events"] >= 14

    # Then the course/day rows are the ones computed by hand
    days = course_days(db, fx.c1)
    d2, d3 = days[date(2026, 3, 2)], days[date(2026, 3, 3)]
    assert (d2.enrollments, d2.active_learners, d2.lesson_completions, d2.completing_learners) == (2, 2, 1, 1)
    assert (d2.completion_rate, d2.quiz_count, d2.avg_quiz_score, d2.seconds_watched, d2.coupon_uses) == \
        (0.5, 2, 70.0, 600, 1)
    assert (d3.active_learners, d3.lesson_completions, d3.seconds_watched, d3.quiz_count, d3.avg_quiz_score) == \
        (2, 1, 300, 0, None)
    # learner days are the learner's calendar: Tokyo's 16:00Z event is already Mar 4 there
    with db() as s:
        tokyo, la = s.get(LearnerStats, fx.tokyo), s.get(LearnerStats, fx.la)
        board = {r.user_id: (r.points, r.exercises, r.submissions)
                 for r in s.scalars(select(TopicScore).where(TopicScore.topic == fx.topic))}
    assert (tokyo.first_active_day, tokyo.last_active_day) == (date(2026, 3, 2), date(2026, 3, 4))
    assert (tokyo.current_streak, tokyo.longest_streak, tokyo.lessons_completed, tokyo.seconds_watched) == (3, 3, 1, 300)
    assert (la.last_active_day, la.current_streak, la.lessons_completed, la.seconds_watched) == \
        (date(2026, 3, 3), 2, 1, 600)
    assert board == {fx.tokyo: (160.0, 2, 3), fx.la: (100.0, 1, 1)}

    # When a late event (Feb 27) and a post-gap event arrive and the next incremental run happens
    fx.ingest(fx.late_batch())
    second = rollup.run(partial(unit_of_work, database.url))
    assert second["from_seq"] == first["to_seq"] and second["events"] >= 2

    # Then the late event lands in its own day, and streaks are recomputed / folded
    days = course_days(db, fx.c1)
    assert days[date(2026, 2, 27)].lesson_completions == 1
    assert days[date(2026, 3, 2)].enrollments == 2        # untouched keys keep their values
    with db() as s:
        tokyo, la = s.get(LearnerStats, fx.tokyo), s.get(LearnerStats, fx.la)
        feb27 = s.get(PlatformDay, date(2026, 2, 27))
    assert (tokyo.first_active_day, tokyo.active_days, tokyo.longest_streak, tokyo.lessons_completed) == \
        (date(2026, 2, 27), 4, 3, 2)
    assert (la.last_active_day, la.current_streak, la.longest_streak, la.active_days) == (date(2026, 3, 5), 1, 2, 3)
    assert feb27.lesson_completions >= 1 and feb27.active_learners >= 1


def test_incremental_full_and_rerun_give_identical_tables(database, db):
    # Given events rolled up incrementally in two steps (the second with a late event)
    fx = Fixture(database.url)
    fx.ingest(fx.first_batch())
    rollup.run(partial(unit_of_work, database.url))
    fx.ingest(fx.late_batch())
    rollup.run(partial(unit_of_work, database.url))
    incremental = rollup.snapshot(database.url)

    # When everything is recomputed from scratch, and again
    rollup.run(partial(unit_of_work, database.url), full=True)
    full = rollup.snapshot(database.url)
    rollup.run(partial(unit_of_work, database.url), full=True)

    # Then all three agree, and a run with nothing new changes nothing
    assert full == incremental
    assert rollup.snapshot(database.url) == full
    assert rollup.run(partial(unit_of_work, database.url))["events"] == 0

    # When the watermark is reset and the same events are rolled up again incrementally
    with unit_of_work(database.url) as s:
        s.execute(update(RollupState).values(last_seq=0))
    rerun = rollup.run(partial(unit_of_work, database.url))
    assert rerun["events"] >= 16
    assert rollup.snapshot(database.url) == full


def test_redelivered_batch_is_counted_once(database, db):
    fx = Fixture(database.url)
    batch = fx.first_batch()
    assert fx.ingest(batch) == {"received": 14, "inserted": 14, "duplicates": 0, "rejected": 0}
    assert fx.ingest(batch) == {"received": 14, "inserted": 0, "duplicates": 14, "rejected": 0}
    # a batch overlapping an earlier one, and repeating an event of its own, adds only what is new
    new = [fx.ev("login", fx.utc, "2026-03-06T10:00:00Z"), fx.ev("login", fx.la, "2026-03-06T11:00:00Z")]
    assert fx.ingest(batch[:5] + new + new[:1]) == {"received": 8, "inserted": 2, "duplicates": 6, "rejected": 0}
    with db() as s:
        n = len(s.scalars(select(LearningEvent.seq).where(LearningEvent.event_id.like(f"{fx.tag}-%"))).all())
    assert n == 16


def test_learner_read_model_shows_the_streak_in_the_learners_day(database, db):
    fx = Fixture(database.url)
    fx.ingest(fx.first_batch())
    rollup.run(partial(unit_of_work, database.url))
    with session_factory(database.url)() as s:
        # 2026-03-05 14:59Z is still Mar 5 in Tokyo (23:59): active Mar 4 → streak alive
        alive = queries.learner(s, fx.tokyo, now=datetime(2026, 3, 5, 14, 59, tzinfo=timezone.utc))
        # one minute later it is Mar 6 in Tokyo: the streak is broken
        broken = queries.learner(s, fx.tokyo, now=datetime(2026, 3, 5, 15, 0, tzinfo=timezone.utc))
    assert (alive["local_date"], alive["current_streak"]) == ("2026-03-05", 3)
    assert (broken["local_date"], broken["current_streak"], broken["longest_streak"]) == ("2026-03-06", 0, 3)
    # week of Mon Mar 2 (Tokyo): 300 s watched on Mar 4 → 5 minutes of a 30 minute goal
    assert alive["week"] == {"minutes": 5.0, "goal_minutes": 30, "progress": 0.167}


def test_set_based_streaks_match_the_python_fold(database, db):
    # Given learner days with runs, gaps, a single day, and runs across month and year ends
    import random
    import secrets
    from datetime import timedelta

    from domain.analytics import aggregates, streaks
    from domain.analytics.models import LearnerDay

    rnd, tag = random.Random(9), secrets.token_hex(3)
    start = date(2025, 12, 20)
    days = {f"s{tag}-{i}": sorted({start + timedelta(days=rnd.randrange(40)) for _ in range(rnd.randrange(1, 30))})
            for i in range(40)}
    days[f"s{tag}-one"] = [date(2026, 2, 28)]
    days[f"s{tag}-run"] = [date(2025, 12, 30) + timedelta(days=k) for k in range(5)]   # Dec 30 .. Jan 3
    with unit_of_work(database.url) as s:
        s.add_all(LearnerDay(user_id=u, local_day=d, events=1, lessons_completed=d.day % 3, seconds_watched=d.day)
                  for u, ds in days.items() for d in ds)

    # When the stats are computed by the SQL of the full recompute (gaps and islands)
    with db() as s:
        got = {r.user_id: tuple(r)[1:] for r in s.execute(aggregates.learner_stats()) if r.user_id in days}

    # Then they equal the pure-Python streak fold over the same days
    want = {}
    for u, ds in days.items():
        st = streaks.from_days(ds)
        want[u] = (st.first_active_day, st.last_active_day, st.current_streak, st.longest_streak, st.active_days,
                   sum(d.day % 3 for d in ds), sum(d.day for d in ds))
    assert got == want
    assert got[f"s{tag}-run"][2:4] == (5, 5)
