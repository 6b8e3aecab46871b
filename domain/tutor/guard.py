"""Hint-mode guard: a reply must never hand over the exercise's reference solution.

Pure functions of the reply text and the solution text, so it can be tested without the sandbox.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

MIN_LINE_CHARS = 8           # shorter solution lines ("return x", "}") are too common to count
REFUSAL = ("I can't show the solution to a graded exercise, but here is a hint: re-read the lesson "
           "passages cited below, write down what the function must return for the simplest input, "
           "and build up from there.")


def _norm(text: str) -> str:
    return re.sub(r"\s+", "", text).lower()


def significant_lines(solution: str) -> list[str]:
    lines = []
    for line in solution.splitlines():
        n = _norm(line)
        if len(n) >= MIN_LINE_CHARS and not n.startswith(("#", "//", '"""', "'''")):
            lines.append(n)
    return lines


@dataclass(frozen=True)
class Verdict:
    blocked: bool
    reason: str = ""


def check(reply: str, solution: str | None) -> Verdict:
    """Blocked when the reply holds the whole solution (whitespace and case aside), or at least half
    of its significant lines (and at least two of them)."""
    if not solution or not solution.strip():
        return Verdict(False)
    text, whole = _norm(reply), _norm(solution)
    if whole and whole in text:
        return Verdict(True, "the reply contains the reference solution")
    lines = significant_lines(solution)
    if len(lines) >= 2:
        found = sum(1 for line in lines if line in text)
        if found >= 2 and found * 2 >= len(lines):
            return Verdict(True, f"the reply contains {found} of {len(lines)} lines of the reference solution")
    return Verdict(False)


def holdback(solution: str | None) -> int:
    """How many trailing characters of a streamed hint to keep unpublished until checked."""
    return 0 if not solution else min(len(solution) + 16, 4000)
