"""Rubric scoring and bad choices; peer-review assignment invariants."""
from collections import Counter

import pytest
from hypothesis import given, settings, strategies as st

from domain.grading.peers import assign_reviewers, peer_percent
from domain.grading.rubrics import Rubric, RubricError, score_rubric

RUBRIC = Rubric.model_validate({"criteria": [
    {"id": "clarity", "levels": [{"id": "poor", "points": 0}, {"id": "good", "points": 3}, {"id": "great", "points": 5}]},
    {"id": "code", "levels": [{"id": "no", "points": 0}, {"id": "yes", "points": 5}]},
]})


def test_rubric_scores_the_chosen_levels():
    assert score_rubric(RUBRIC, {"clarity": "good", "code": "yes"}) == (8.0, 10.0)


@pytest.mark.parametrize("choices, field", [
    ({"clarity": "superb", "code": "yes"}, "rubric.clarity"),     # unknown level
    ({"clarity": "good", "code": "yes", "style": "ok"}, "rubric.style"),   # unknown criterion
    ({"clarity": "good"}, "rubric.code"),                        # missing criterion
])
def test_bad_rubric_choices_name_the_field(choices, field):
    with pytest.raises(RubricError) as err:
        score_rubric(RUBRIC, choices)
    assert err.value.field == field


@settings(deadline=None)
@given(st.data())
def test_rubric_score_within_zero_and_max(data):
    choices = {c.id: data.draw(st.sampled_from([lv.id for lv in c.levels])) for c in RUBRIC.criteria}
    points, maximum = score_rubric(RUBRIC, choices)
    assert 0 <= points <= maximum


@settings(deadline=None)
@given(st.lists(st.text(alphabet="abcdef0123", min_size=1, max_size=6), min_size=0, max_size=40, unique=True),
       st.integers(1, 6), st.text(max_size=8))
def test_peer_assignment_invariants(authors, k, seed):
    plan = assign_reviewers(seed, authors, k)
    n = len(authors)
    expected_k = max(0, min(k, n - 1)) if n >= 2 else 0
    assert set(plan) == set(authors)
    load = Counter()
    for author, reviewers in plan.items():
        assert author not in reviewers                    # nobody reviews their own work
        assert len(set(reviewers)) == len(reviewers) == expected_k
        assert set(reviewers) <= set(authors)
        load.update(reviewers)
    if expected_k:
        assert max(load.values()) - min(load.values()) <= 1   # balanced: k or k±1
        assert set(load) == set(authors)
    assert assign_reviewers(seed, list(reversed(authors)), k) == plan    # deterministic, order-free


def test_peer_percent():
    assert peer_percent([]) is None
    assert peer_percent([5, 4, 3]) == pytest.approx(80.0)
