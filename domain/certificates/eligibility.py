"""Who earns a course certificate. Pure: the caller supplies the grade and the lesson sets.

Default rule: every required lesson completed and the course grade ``passed``. A course may add
a minimum percent and extra lessons (e.g. quizzes marked optional in the syllabus) through its
``certificate_rules`` row, or switch certificates off.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Rule:
    enabled: bool = True
    min_percent: float | None = None
    required_lesson_ids: tuple[str, ...] = ()
    show_grade: bool = False
    page_size: str | None = None


@dataclass(frozen=True)
class Decision:
    eligible: bool
    reasons: list[str] = field(default_factory=list)   # why not, in words; empty when eligible
    missing_lessons: list[str] = field(default_factory=list)


def decide(rule: Rule, grade: dict | None, required_lessons: set[str], completed_lessons: set[str]) -> Decision:
    """``grade`` is ``{"percent", "letter", "passed", ...}`` (grading's ``course_grade``) or None."""
    reasons: list[str] = []
    if not rule.enabled:
        reasons.append("this course does not issue certificates")
    needed = set(required_lessons) | set(rule.required_lesson_ids)
    missing = sorted(needed - set(completed_lessons))
    if missing:
        reasons.append(f"{len(missing)} required lesson(s) not completed")
    if grade is None:
        reasons.append("no course grade yet")
    else:
        if not grade.get("passed"):
            reasons.append("the course grade is not a pass")
        if rule.min_percent is not None and float(grade.get("percent") or 0) < rule.min_percent:
            reasons.append(f"the course grade {grade.get('percent')}% is below the minimum {rule.min_percent}%")
    return Decision(eligible=not reasons, reasons=reasons, missing_lessons=missing)
