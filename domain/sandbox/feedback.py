"""Feedback a learner may see: the first failing *visible* case with a trimmed diff.
Hidden cases are named by number and verdict only, never by their input or output."""
from __future__ import annotations

import difflib
from typing import TYPE_CHECKING, Sequence

if TYPE_CHECKING:   # pragma: no cover
    from domain.sandbox.judge import CaseResult, CaseSpec

from domain.sandbox.verdicts import Verdict


def title(code: str) -> str:
    return Verdict(code).title


def trim(text: str, limit: int) -> str:
    text = text.replace("\x00", "")
    if len(text) <= limit:
        return text
    return text[:limit] + f"\n... ({len(text) - limit} more characters)"


def diff(expected: str, actual: str, max_lines: int = 20) -> str:
    lines = list(difflib.unified_diff(expected.splitlines(), actual.splitlines(), "expected", "your output",
                                      lineterm="", n=1))
    if len(lines) > max_lines:
        lines = lines[:max_lines] + [f"... ({len(lines) - max_lines} more diff lines)"]
    return trim("\n".join(lines), 2000)


def feedback_for(results: Sequence["CaseResult"], cases: Sequence["CaseSpec"]) -> str:
    passed = sum(r.verdict == "AC" for r in results)
    head = f"{passed}/{len(results)} tests passed."
    failing_visible = next((r for r in results if r.verdict != "AC" and not r.hidden), None)
    parts = [head]
    if failing_visible is not None:
        case = cases[failing_visible.case - 1]
        parts.append(f"Test {failing_visible.case}: {title(failing_visible.verdict)}")
        parts.append("Input:\n" + trim(case.stdin, 500))
        if failing_visible.verdict == "WA":
            parts.append(diff(case.expected, failing_visible.output))
        elif failing_visible.detail:
            parts.append(failing_visible.detail)
    hidden_failed = [r for r in results if r.verdict != "AC" and r.hidden]
    if hidden_failed:
        names = ", ".join(f"{r.case} ({title(r.verdict)})" for r in hidden_failed[:10])
        parts.append(f"Hidden tests failed: {names}")
    return "\n".join(parts)
