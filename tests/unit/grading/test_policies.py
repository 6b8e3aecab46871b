"""Attempt policies, time limits and late penalties; a late penalty never raises a score."""
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings, strategies as st

from domain.grading.policies import (LatePolicy, apply_penalty, combine_attempts, late_penalty_percent,
                                     past_hard_cutoff, within_time_limit)

DUE = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize("policy, expected", [("best", 0.9), ("last", 0.5), ("average", (0.4 + 0.9 + 0.5) / 3)])
def test_attempt_policies(policy, expected):
    assert combine_attempts(policy, [0.4, 0.9, 0.5]) == pytest.approx(expected)


def test_no_attempts_and_unknown_policy():
    assert combine_attempts("best", []) is None
    with pytest.raises(ValueError):
        combine_attempts("median", [1.0])


def test_time_limit_counts_from_server_start():
    start = DUE
    assert within_time_limit(start, start + timedelta(seconds=600), 600)
    assert not within_time_limit(start, start + timedelta(seconds=601), 600)
    assert within_time_limit(start, start + timedelta(days=9), None)


POLICY = LatePolicy(grace_minutes=30, percent_per_day=10, max_percent=30, hard_cutoff_hours=24 * 7)


@pytest.mark.parametrize("late_by, penalty", [
    (timedelta(minutes=-5), 0), (timedelta(minutes=30), 0),          # on time, within grace
    (timedelta(minutes=31), 10), (timedelta(hours=24), 10),          # first started day
    (timedelta(hours=25), 20), (timedelta(days=5), 30),              # capped at 30 %
])
def test_late_penalty_examples(late_by, penalty):
    assert late_penalty_percent(DUE, POLICY, DUE + late_by) == penalty


def test_hard_cutoff():
    assert not past_hard_cutoff(DUE, POLICY, DUE + timedelta(days=7))
    assert past_hard_cutoff(DUE, POLICY, DUE + timedelta(days=7, seconds=1))
    assert not past_hard_cutoff(None, POLICY, DUE + timedelta(days=700))
    with pytest.raises(ValueError):
        LatePolicy(grace_minutes=120, hard_cutoff_hours=1)


policies = st.builds(LatePolicy, grace_minutes=st.floats(0, 3000), percent_per_day=st.floats(0, 100),
                     max_percent=st.floats(0, 100))


@settings(deadline=None)
@given(policies, st.floats(0, 1000), st.integers(-10_000, 10_000_000))
def test_late_penalty_never_raises_a_score(policy, raw, late_seconds):
    penalty = late_penalty_percent(DUE, policy, DUE + timedelta(seconds=late_seconds))
    assert 0 <= penalty <= policy.max_percent
    assert 0 <= apply_penalty(raw, penalty) <= raw


@settings(deadline=None)
@given(policies, st.integers(0, 10_000_000), st.integers(0, 10_000_000))
def test_later_is_never_better(policy, a, b):
    early, late = sorted((a, b))
    assert late_penalty_percent(DUE, policy, DUE + timedelta(seconds=early)) <= \
        late_penalty_percent(DUE, policy, DUE + timedelta(seconds=late))
