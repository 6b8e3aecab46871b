"""Peer review as submissions arrive in batches: existing pairs are kept, every submission has at
least k reviewers, nobody reviews their own work or one submission twice, loads stay within one,
and the same input gives the same pairs."""
from collections import Counter

from hypothesis import given, settings, strategies as st

from domain.grading.peers import assign_reviewers

people = st.lists(st.text("abcdefghij0123456789", min_size=1, max_size=6), min_size=1, max_size=30, unique=True)


def check(plan, authors, k, before):
    n = len(authors)
    want = min(k, n - 1) if n >= 2 else 0
    assert set(plan) == set(authors)
    for author, reviewers in plan.items():
        assert author not in reviewers
        assert len(set(reviewers)) == len(reviewers) >= want
        assert set(reviewers) <= set(authors)
        assert reviewers[:len(before.get(author, []))] == before.get(author, [])   # existing pairs kept, first
    loads = Counter(r for reviewers in plan.values() for r in reviewers)
    if want:
        values = [loads.get(a, 0) for a in authors]
        assert max(values) - min(values) <= 1, values


@settings(max_examples=150, deadline=None)
@given(people, st.integers(1, 5), st.lists(st.integers(1, 10), min_size=1, max_size=5), st.text(max_size=8))
def test_batches_of_late_submissions(everyone, k, batch_sizes, seed):
    arrived, plan = [], {}
    rest = list(everyone)
    for size in batch_sizes:
        arrived += rest[:size]
        rest = rest[size:]
        before = {a: list(r) for a, r in plan.items()}
        plan = assign_reviewers(seed, arrived, k, before)
        check(plan, arrived, k, before)
        assert assign_reviewers(seed, list(reversed(arrived)), k, before) == plan       # deterministic
        assert assign_reviewers(seed, arrived, k, plan) == plan                         # a rerun adds nothing


def test_one_late_submission_gets_k_reviewers_and_k_reviews():
    first = [f"u{i}" for i in range(6)]
    plan = assign_reviewers("s", first, 3)
    late = assign_reviewers("s", first + ["late"], 3, plan)
    assert len(late["late"]) == 3
    loads = Counter(r for reviewers in late.values() for r in reviewers)
    assert loads["late"] == 3 and set(loads.values()) <= {3, 4}
    assert max(len(r) for r in late.values()) <= 4
