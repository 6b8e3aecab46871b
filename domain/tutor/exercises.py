"""The exercise a hint-mode session is about, read through the sandbox family's model when present."""
from __future__ import annotations

import importlib
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

VISIBLE_CASES = 3       # example cases shown to the model in hint mode (hidden cases never)
MAX_CODE_CHARS = 4000   # the learner's latest code, cut to this

SOLUTION_FIELDS = ("reference_solution", "solution", "reference_source")


def _model():
    try:
        module = importlib.import_module("domain.sandbox.models")
    except ModuleNotFoundError:
        return None
    return getattr(module, "Exercise", None)


def exists(session: Session, exercise_id: str) -> bool | None:
    """True/False when the sandbox family has an exercise table; None when it has none (yet)."""
    model = _model()
    if model is None:
        return None
    return session.get(model, exercise_id) is not None


def reference_solution(session: Session, exercise_id: str | None) -> str | None:
    model = _model()
    if model is None or not exercise_id:
        return None
    exercise = session.get(model, exercise_id)
    if exercise is None:
        return None
    for name in SOLUTION_FIELDS:
        value = getattr(exercise, name, None)
        if isinstance(value, str) and value.strip():
            return value
    return None


@dataclass(frozen=True)
class HintContext:
    """What the model may see in hint mode: the exercise as the learner sees it and their code."""

    title: str
    description: str
    visible_cases: tuple[dict, ...]
    language: str | None
    code: str | None


def _module():
    try:
        return importlib.import_module("domain.sandbox.models")
    except ModuleNotFoundError:
        return None


def hint_context(session: Session, exercise_id: str | None, user_id: str) -> HintContext | None:
    module = _module()
    if module is None or not exercise_id:
        return None
    exercise = session.get(module.Exercise, exercise_id)
    if exercise is None:
        return None
    cases = tuple({"stdin": c.stdin[:500], "expected": c.expected_stdout[:500]}
                  for c in exercise.test_cases if not c.hidden)[:VISIBLE_CASES]
    Submission = module.Submission
    latest = session.execute(select(Submission.language, Submission.code)
                             .where(Submission.exercise_id == exercise_id, Submission.user_id == user_id)
                             .order_by(Submission.created_at.desc()).limit(1)).first()
    return HintContext(exercise.title, exercise.description or "", cases,
                       latest.language if latest else None, latest.code[:MAX_CODE_CHARS] if latest else None)
