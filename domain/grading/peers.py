"""Peer-review assignment and aggregation. Pure and deterministic.

Learners are put in a pseudo-random order seeded by the assignment id, then each one's
submission is reviewed by the next k learners around the circle: nobody reviews their own
work, every reviewer gets exactly k reviews (k is capped at n − 1), and the same input
always gives the same pairs.
"""
from __future__ import annotations

import hashlib
import random
from typing import Sequence

MAX_RATING = 5.0


def assign_reviewers(seed: str, authors: Sequence[str], k: int) -> dict[str, list[str]]:
    """{author: [reviewer, ...]} for the given (distinct) authors."""
    people = sorted(set(authors))
    n = len(people)
    k = min(k, n - 1)
    if n < 2 or k <= 0:
        return {a: [] for a in people}
    rng = random.Random(int.from_bytes(hashlib.sha256(seed.encode()).digest()[:8], "big"))
    rng.shuffle(people)
    return {people[i]: [people[(i + step) % n] for step in range(1, k + 1)] for i in range(n)}


def peer_percent(ratings: Sequence[float]) -> float | None:
    """Mean rating as a percent of the top rating; None with no reviews yet."""
    if not ratings:
        return None
    return 100.0 * sum(ratings) / (len(ratings) * MAX_RATING)
