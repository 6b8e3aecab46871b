"""Peer-review assignment and aggregation. Pure and deterministic.

``assign_reviewers`` gives every submission at least k reviewers (k capped at n − 1) among the
other submitters, keeps every pair that already exists, and spreads the reviewing load so that
any two submitters' loads differ by at most one:

* with no pairs yet, learners are put in a pseudo-random order seeded by the assignment id and
  each submission is reviewed by the next k learners around that circle (everyone reviews
  exactly k);
* when submissions arrive later, each one short of k reviewers gets the least-loaded eligible
  reviewers, then the least-loaded submitters take extra reviews (of the submissions with the
  fewest reviewers) until the loads are within one. A submission may then have more than k
  reviewers; nobody ever reviews their own work or the same submission twice.

Ties are broken by a hash of the seed and the ids, so the same input always gives the same pairs.
"""
from __future__ import annotations

import hashlib
import heapq
import random
from typing import Iterable, Mapping, Sequence

MAX_RATING = 5.0


def _rank(seed: str, *ids: str) -> bytes:
    return hashlib.sha256("\x1f".join((seed, *ids)).encode()).digest()[:8]


def _circle(seed: str, people: list[str], k: int) -> dict[str, list[str]]:
    rng = random.Random(int.from_bytes(hashlib.sha256(seed.encode()).digest()[:8], "big"))
    order = list(people)
    rng.shuffle(order)
    n = len(order)
    return {order[i]: [order[(i + step) % n] for step in range(1, k + 1)] for i in range(n)}


def _pick(heap: list, eligible) -> tuple:
    """Pop the smallest eligible entry of a (key..., id) heap; the skipped ones go back."""
    skipped = []
    while heap:
        entry = heapq.heappop(heap)
        if eligible(entry[-1]):
            for s in skipped:
                heapq.heappush(heap, s)
            return entry
        skipped.append(entry)
    raise AssertionError("no eligible entry (k is capped at n - 1, so this cannot happen)")


def assign_reviewers(seed: str, authors: Sequence[str], k: int,
                     existing: Mapping[str, Iterable[str]] | None = None) -> dict[str, list[str]]:
    """{author: [reviewer, ...]} for the given (distinct) authors: the ``existing`` pairs
    ({author: reviewers}) plus the new ones, new reviewers appended in the order chosen."""
    people = sorted(set(authors))
    n = len(people)
    members = set(people)
    plan = {a: [r for r in dict.fromkeys((existing or {}).get(a, ())) if r in members and r != a] for a in people}
    k = min(k, n - 1)
    if n < 2 or k <= 0:
        return plan
    if not any(plan.values()):
        return _circle(seed, people, k)
    load = dict.fromkeys(people, 0)
    for reviewers in plan.values():
        for r in reviewers:
            load[r] += 1
    reviewing = {p: set() for p in people}
    for a, reviewers in plan.items():
        for r in reviewers:
            reviewing[r].add(a)

    def add(author: str, reviewer: str) -> None:
        plan[author].append(reviewer)
        reviewing[reviewer].add(author)
        load[reviewer] += 1

    by_load = [(load[p], _rank(seed, p), p) for p in people]
    heapq.heapify(by_load)
    for author in sorted(people, key=lambda a: _rank(seed, "author", a)):
        while len(plan[author]) < k:
            _, _, reviewer = _pick(by_load, lambda r: r != author and author not in reviewing[r])
            add(author, reviewer)
            heapq.heappush(by_load, (load[reviewer], _rank(seed, reviewer), reviewer))
    while max(load.values()) - min(load.values()) > 1:
        reviewer = min(people, key=lambda p: (load[p], _rank(seed, p)))
        author = min((a for a in people if a != reviewer and a not in reviewing[reviewer]),
                     key=lambda a: (len(plan[a]), _rank(seed, a, reviewer)))
        add(author, reviewer)
    return plan


def peer_percent(ratings: Sequence[float]) -> float | None:
    """Mean rating as a percent of the top rating; None with no reviews yet."""
    if not ratings:
        return None
    return 100.0 * sum(ratings) / (len(ratings) * MAX_RATING)
