"""An independent grade oracle, written from the grading docs (docs/families/grading.md) and
nothing else: it imports no grading code. Inputs are plain data; outputs are item points and
course grades.
"""
from __future__ import annotations

import math
from datetime import datetime


def question_share(spec: dict, answer) -> float:
    """Share of a question's points an answer earns (docs: question types)."""
    if answer is None:
        return 0.0
    kind = spec["type"]
    if kind in ("single_choice", "true_false"):
        return 1.0 if answer == spec["correct"] else 0.0
    if kind == "multiple_choice":
        right = len(set(answer) & set(spec["correct"]))
        wrong = len(set(answer) - set(spec["correct"]))
        return max(0.0, (right - spec.get("wrong_pick_penalty", 1.0) * wrong) / len(spec["correct"]))
    if kind == "numeric":
        tolerance = max(spec.get("abs_tolerance", 0.0), spec.get("rel_tolerance", 0.0) * abs(spec["value"]))
        return 1.0 if abs(answer - spec["value"]) <= tolerance + 1e-12 else 0.0
    raise NotImplementedError(kind)


def attempt_score(questions: list[tuple[float, dict]], answers: dict[int, object]) -> tuple[float, float]:
    """(points, max) of one attempt: ``questions`` = [(points, spec)], ``answers`` by question index."""
    earned = sum(points * question_share(spec, answers.get(i)) for i, (points, spec) in enumerate(questions))
    return earned, sum(points for points, _ in questions)


def quiz_points(policy: str, attempts: list[tuple[float, float]]) -> tuple[float, float]:
    """The quiz's gradebook points: the attempt policy over each attempt's fraction, times the max."""
    fractions = [score / most for score, most in attempts]
    counted = {"best": max, "last": lambda f: f[-1], "average": lambda f: sum(f) / len(f)}[policy](fractions)
    return counted * attempts[-1][1], attempts[-1][1]


def late_penalty(due: datetime, submitted: datetime, policy: dict) -> float:
    """Percent off: none within the grace period, then percent_per_day per started day late, capped."""
    late = (submitted - due).total_seconds()
    if late <= policy.get("grace_minutes", 0) * 60:
        return 0.0
    return min(policy.get("max_percent", 100), policy.get("percent_per_day", 0) * math.ceil(late / 86400), 100)


def assignment_points(raw: float, maximum: float, penalty: float, ratings: list[float],
                      peer_weight: float) -> float:
    """Rubric points less the late penalty, blended with the peer percent (mean rating / 5)."""
    instructor = max(0.0, raw * (1 - penalty / 100))
    if peer_weight and ratings:
        peer = sum(ratings) / (5 * len(ratings))
        return ((1 - peer_weight) * instructor / maximum + peer_weight * peer) * maximum
    return instructor


def course_grade(scheme: dict, items: list[tuple[str, float, float]]) -> tuple[float, str, bool]:
    """(percent, letter, passed) from items [(category, score, max)] (docs: Course grade)."""
    weights = {name: cat["weight"] for name, cat in scheme["categories"].items()}
    total = 0.0
    for name, cat in scheme["categories"].items():
        pcts = sorted(100.0 * min(max(score, 0), most) / most if most > 0 else 100.0
                      for category, score, most in items if category == name)
        pcts = [0.0] * max(0, cat.get("expected", 0) - len(pcts)) + pcts
        if pcts:
            pcts = pcts[min(cat.get("drop_lowest", 0), len(pcts) - 1):]
            total += weights[name] * sum(pcts) / len(pcts)
    percent = round(min(100.0, max(0.0, total / sum(weights.values()))), 4)
    letters = sorted(scheme.get("letters", [[90, "A"], [80, "B"], [70, "C"], [60, "D"], [0, "F"]]), reverse=True)
    letter = next(l for minimum, l in letters if percent >= minimum - 1e-9)
    return percent, letter, percent >= scheme.get("pass_threshold", 60) - 1e-9
