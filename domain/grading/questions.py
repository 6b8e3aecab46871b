"""Question types and how one answer is scored. Pure: no database, no clock.

A question's ``spec`` is one of the pydantic models below (discriminated on ``type``);
``score(spec, points, answer)`` returns a ``QuestionResult`` with points in [0, points].
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, model_validator

from domain.grading import patterns
from domain.grading.patterns import normalise_text

MAX_TEXT_ANSWER = 2000


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
    abs_tolerance: float = Field(default=0.0, ge=0, allow_inf_nan=False)
    rel_tolerance: float = Field(default=0.0, ge=0, le=1)


class ShortText(_Spec):
    """Right when the answer equals an accepted answer or matches ``pattern`` (RE2 syntax, whole
    answer), both sides normalised the same way (NFC, case folding, white space: see patterns.py)."""

    type: Literal["short_text"] = "short_text"
    accepted: list[str] = Field(default_factory=list, max_length=100)
    pattern: str | None = Field(default=None, max_length=500)

    @model_validator(mode="after")
    def _something_to_match(self):
        if not self.accepted and not self.pattern:
            raise ValueError("give accepted answers or a pattern")
        if self.pattern:
            try:
                patterns.check(self.pattern)
            except patterns.PatternError as exc:
                raise ValueError(f"pattern: {exc}") from None
        return self


class Ordering(_Spec):
    """Items in the right order; partial credit per item in its right place."""

    type: Literal["ordering"] = "ordering"
    items: list[str] = Field(min_length=2, max_length=50)     # listed in the correct order

    @model_validator(mode="after")
    def _distinct(self):
        if len(set(self.items)) != len(self.items):
            raise ValueError("ordering items must be distinct")
        return self


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


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _option_index(value: Any, options: list[str], what: str) -> None:
    _require(_is_int(value), what)
    if not 0 <= value < len(options):
        raise BadAnswer(f"option {value} does not exist: this question has options 0 to {len(options) - 1}")


def _utf8(value: Any) -> bool:
    """Whether every string in a JSON value (keys too) can be stored as UTF-8."""
    stack = [value]
    while stack:
        v = stack.pop()
        strings = [v] if isinstance(v, str) else list(v) if isinstance(v, dict) else []
        for text in strings:
            try:
                text.encode("utf-8")
            except UnicodeEncodeError:
                return False
        if isinstance(v, dict):
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)
    return True


def check_answer(spec: Any, answer: Any) -> None:
    """Raise BadAnswer unless the answer has the question's shape. ``None`` is "not answered".

    Cheap and bounded (no pattern is run): intake calls it for every answer."""
    if answer is None:
        return
    if not _utf8(answer):
        raise BadAnswer("the answer holds text that is not valid Unicode (a lone surrogate)")
    if isinstance(spec, SingleChoice):
        _option_index(answer, spec.options, "an option index")
    elif isinstance(spec, MultipleChoice):
        _require(isinstance(answer, list), "a list of option indexes")
        for value in answer:
            _option_index(value, spec.options, "a list of option indexes")
        if len(set(answer)) != len(answer):
            raise BadAnswer("an option is picked twice")
    elif isinstance(spec, TrueFalse):
        _require(isinstance(answer, bool), "true or false")
    elif isinstance(spec, Numeric):
        _require(isinstance(answer, (int, float)) and not isinstance(answer, bool), "a number")
        try:
            finite = math.isfinite(float(answer))
        except OverflowError:
            finite = False
        if not finite:
            raise BadAnswer("the answer must be a finite number within the range of a double (about ±1.8e308)")
    elif isinstance(spec, ShortText):
        _require(isinstance(answer, str), "a text")
        if len(answer) > MAX_TEXT_ANSWER or "\x00" in answer:
            raise BadAnswer(f"the answer must be a text of at most {MAX_TEXT_ANSWER} characters, without NUL")
    elif isinstance(spec, Ordering):
        _require(isinstance(answer, list) and all(isinstance(i, str) for i in answer), "a list of items")
        if sorted(answer) != sorted(spec.items):
            raise BadAnswer("the answer must list each of the question's items exactly once")
    elif isinstance(spec, Matching):
        _require(isinstance(answer, dict) and all(isinstance(v, str) for v in answer.values()),
                 "an object left → right")
        extra = sorted(set(answer) - set(spec.pairs))
        if extra:
            raise BadAnswer(f"{extra[0]!r} is not a left-hand item of this question")
    else:
        raise TypeError(f"unknown question spec {type(spec).__name__}")


def fraction(spec: Any, answer: Any) -> float:
    """The share of the question's points a (checked, not None) answer earns, in [0, 1].
    Runs in the worker: it is where answer patterns are matched."""
    check_answer(spec, answer)
    if isinstance(spec, SingleChoice):
        return 1.0 if answer == spec.correct else 0.0
    if isinstance(spec, MultipleChoice):
        picks = set(answer)
        right = len(picks & set(spec.correct))
        wrong = len(picks - set(spec.correct))
        return max(0.0, (right - spec.wrong_pick_penalty * wrong) / len(spec.correct))
    if isinstance(spec, TrueFalse):
        return 1.0 if answer == spec.correct else 0.0
    if isinstance(spec, Numeric):
        tolerance = max(spec.abs_tolerance, spec.rel_tolerance * abs(spec.value))
        return 1.0 if abs(float(answer) - spec.value) <= tolerance + 1e-12 else 0.0
    if isinstance(spec, ShortText):
        given = normalise_text(answer)
        if any(given == normalise_text(a) for a in spec.accepted):
            return 1.0
        return 1.0 if spec.pattern and patterns.matches(spec.pattern, answer) else 0.0
    if isinstance(spec, Ordering):
        return sum(1 for i, item in enumerate(spec.items) if answer[i] == item) / len(spec.items)
    if isinstance(spec, Matching):
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
