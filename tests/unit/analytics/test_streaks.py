from datetime import date, timedelta

import pytest

from domain.analytics import streaks

D = date(2026, 3, 1)


def days(*offsets):
    return [D + timedelta(days=o) for o in offsets]


def test_streaks_from_all_days():
    st = streaks.from_days(days(0, 1, 2, 5, 6, 1))
    assert (st.current_streak, st.longest_streak, st.active_days) == (2, 3, 5)
    assert st.first_active_day == D and st.last_active_day == D + timedelta(days=6)


def test_extending_gives_what_a_full_recompute_gives():
    all_days = days(0, 1, 2, 4, 5, 6, 7, 9)
    folded = streaks.extend(streaks.from_days(all_days[:3]), all_days[3:])
    assert folded == streaks.from_days(all_days)


def test_extend_refuses_a_day_that_is_not_after_the_last_one():
    with pytest.raises(ValueError):
        streaks.extend(streaks.from_days(days(0, 3)), days(2))


def test_live_streak_survives_until_the_end_of_the_next_day():
    assert streaks.live_streak(4, D, D) == 4
    assert streaks.live_streak(4, D, D + timedelta(days=1)) == 4
    assert streaks.live_streak(4, D, D + timedelta(days=2)) == 0
