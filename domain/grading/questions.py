"""Question types and how one answer is scored. Pure: no database, no clock.

A question's ``spec`` is one of the pydantic models below (discriminated on ``type``);
``score(spec, points, answer)`` returns a ``QuestionResult`` with points in [0, points].
"""
from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, model_validator


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    prompt: str = Field(default="", max_length=10_000)
    feedback_correct: str = Field(default="Correct.", max_length=2000)
    feedback_wrong: str = Field(default="Not quite.", max_length=2000)


class SingleChoice(_Spec):
    type: Literal["single_choice"] = "single_choice"
    options: list[str] = Field(min_length=2, max_length=50)
    correct: int = Field(ge=0)

    @model_validator(mode="after")
    def _in_range(self):
        if self.correct >= len(self.options):
            raise ValueError("correct must index an option")
        return self


class MultipleChoice(_Spec):
    """Partial credit: (right picks − penalty × wrong picks) / number of right options, floored at 0."""

    type: Literal["multiple_choice"] = "multiple_choice"
    options: list[str] = Field(min_length=2, max_length=50)
    correct: list[int] = Field(min_length=1)
    wrong_pick_penalty: float = Field(default=1.0, ge=0, le=10)

    @model_validator(mode="after")
    def _in_range(self):
        if any(i < 0 or i >= len(self.options) for i in self.correct) or len(set(self.correct)) != len(self.correct):
            raise ValueError("correct must list distinct option indexes")
        return self


class TrueFalse(_Spec):
    type: Literal["true_false"] = "true_false"
    correct: bool


class Numeric(_Spec):
    """Right when |answer − value| ≤ abs_tolerance, or ≤ rel_tolerance × |value|."""

    type: Literal["numeric"] = "numeric"
    value: float = Field(allow_inf_nan=False)
    abs_tolerance: float = Field(default=0.0, ge=0)
    rel_tolerance: float = Field(default=0.0, ge=0, le=1)


class ShortText(_Spec):
    """Case and whitespace are normalised; right when it equals an accepted answer or matches ``pattern``."""

    type: Literal["short_text"] = "short_text"
    accepted: list[str] = Field(default_factory=list, max_length=100)
    pattern: str | None = Field(default=None, max_length=500)

    @model_validator(mode="after")
    def _something_to_match(self):
        if not self.accepted and not self.pattern:
            raise ValueError("give accepted answers or a pattern")
        if self.pattern:
            re.compile(self.pattern)
        return self


class Ordering(_Spec):
    """Items in the right order; partial credit per item in its right place."""

    type: Literal["ordering"] = "ordering"
    items: list[str] = Field(min_length=2, max_length=50)     # listed in the correct order


class Matching(_Spec):
    """Pairs left → right; partial credit per right pair."""

    type: Literal["matching"] = "matching"
    pairs: dict[str, str] = Field(min_length=1, max_length=50)


QuestionSpec = Annotated[Union[SingleChoice, MultipleChoice, TrueFalse, Numeric, ShortText, Ordering, Matching],
                         Field(discriminator="type")]
_spec_adapter: TypeAdapter = TypeAdapter(QuestionSpec)
QUESTION_TYPES = ("single_choice", "multiple_choice", "true_false", "numeric", "short_text", "ordering", "matching")


def parse_spec(data: dict) -> Any:
    return _spec_adapter.validate_python(data)


@dataclass(frozen=True)
class QuestionResult:
    question_id: str
    points: float
    max_points: float
    correct: bool
    feedback: str
    counted: bool = True

    def to_dict(self) -> dict:
        return asdict(self)


class BadAnswer(ValueError):
    """An answer of the wrong shape for its question (e.g. text for a numeric question)."""


def normalise_text(text: str) -> str:
    return " ".join(text.split()).casefold()


def fraction(spec: Any, answer: Any) -> float:
    """The share of the question's points this answer earns, in [0, 1]."""
    if isinstance(spec, SingleChoice):
        _require(isinstance(answer, int) and not isinstance(answer, bool), "an option index")
        return 1.0 if answer == spec.correct else 0.0
    if isinstance(spec, MultipleChoice):
        _require(isinstance(answer, list) and all(isinstance(i, int) and not isinstance(i, bool) for i in answer),
                 "a list of option indexes")
        picks = set(answer)
        right = len(picks & set(spec.correct))
        wrong = len(picks - set(spec.correct))
        return max(0.0, (right - spec.wrong_pick_penalty * wrong) / len(spec.correct))
    if isinstance(spec, TrueFalse):
        _require(isinstance(answer, bool), "true or false")
        return 1.0 if answer == spec.correct else 0.0
    if isinstance(spec, Numeric):
        _require(isinstance(answer, (int, float)) and not isinstance(answer, bool), "a number")
        if not math.isfinite(answer):
            return 0.0
        tolerance = max(spec.abs_tolerance, spec.rel_tolerance * abs(spec.value))
        return 1.0 if abs(float(answer) - spec.value) <= tolerance + 1e-12 else 0.0
    if isinstance(spec, ShortText):
        _require(isinstance(answer, str), "a text")
        given = normalise_text(answer)
        if any(given == normalise_text(a) for a in spec.accepted):
            return 1.0
        if spec.pattern and re.fullmatch(spec.pattern, given, flags=re.IGNORECASE):
            return 1.0
        return 0.0
    if isinstance(spec, Ordering):
        _require(isinstance(answer, list) and all(isinstance(i, str) for i in answer), "a list of items")
        return sum(1 for i, item in enumerate(spec.items) if i < len(answer) and answer[i] == item) / len(spec.items)
    if isinstance(spec, Matching):
        _require(isinstance(answer, dict) and all(isinstance(v, str) for v in answer.values()), "an object left → right")
        return sum(1 for left, right in spec.pairs.items() if answer.get(left) == right) / len(spec.pairs)
    raise TypeError(f"unknown question spec {type(spec).__name__}")


def _require(ok: bool, what: str) -> None:
    if not ok:
        raise BadAnswer(f"the answer must be {what}")


def score(question_id: str, spec: Any, points: float, answer: Any) -> QuestionResult:
    """Score one answer; ``answer is None`` means unanswered (0 points)."""
    if answer is None:
        return QuestionResult(question_id, 0.0, points, False, "Not answered.")
    share = min(1.0, max(0.0, fraction(spec, answer)))
    earned = points if share >= 1.0 else min(points, round(points * share, 6))   # rounding never exceeds max
    right = share >= 1.0
    return QuestionResult(question_id, earned, points, right, spec.feedback_correct if right else spec.feedback_wrong)
