"""The exercise a hint-mode session is about, read through the sandbox family's model when present."""
from __future__ import annotations

import importlib

from sqlalchemy.orm import Session

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
