"""Course-grade computation: weighted categories, drop-lowest-N, pass threshold, letters.

Each graded item counts as its percent (score / max × 100). A category's percent is the
mean of its items after dropping its N lowest (keeping at least one); when a category
``expects`` more items than the learner has, the missing ones count as 0. Category weights
are normalised over all categories of the scheme, so a category with nothing graded counts 0.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, NamedTuple, Sequence

from pydantic import BaseModel, ConfigDict, Field, model_validator

DEFAULT_LETTERS = [[90.0, "A"], [80.0, "B"], [70.0, "C"], [60.0, "D"], [0.0, "F"]]


class Category(BaseModel):
    model_config = ConfigDict(extra="forbid")
    weight: float = Field(gt=0, le=1000)
    drop_lowest: int = Field(default=0, ge=0, le=100)
    expected: int = Field(default=0, ge=0, le=10_000)


class Scheme(BaseModel):
    model_config = ConfigDict(extra="forbid")
    categories: dict[str, Category] = Field(min_length=1, max_length=20)
    pass_threshold: float = Field(default=60.0, ge=0, le=100)
    letters: list[tuple[float, str]] = Field(default_factory=lambda: [tuple(x) for x in DEFAULT_LETTERS])

    @model_validator(mode="after")
    def _letters_cover_zero(self):
        self.letters = sorted(((float(m), str(l)) for m, l in self.letters), reverse=True)
        if not self.letters or self.letters[-1][0] > 0:
            raise ValueError("the letter scale must reach 0")
        return self


DEFAULT_SCHEME = Scheme(categories={"quiz": Category(weight=30), "assignment": Category(weight=50),
                                    "code": Category(weight=20)})


class Item(NamedTuple):
    category: str
    score: float
    max_score: float

    @property
    def percent(self) -> float:
        if self.max_score <= 0:
            return 100.0
        return 100.0 * min(max(self.score, 0.0), self.max_score) / self.max_score


@dataclass(frozen=True)
class Grade:
    percent: float
    letter: str
    passed: bool
    categories: dict[str, float]


def category_percent(percents: Sequence[float], category: Category) -> float:
    values = sorted(percents)
    if len(values) < category.expected:
        values = [0.0] * (category.expected - len(values)) + values
    if not values:
        return 0.0
    drop = min(category.drop_lowest, len(values) - 1)
    kept = values[drop:]
    return sum(kept) / len(kept)


def letter_for(scheme: Scheme, percent: float) -> str:
    for minimum, letter in scheme.letters:
        if percent >= minimum - 1e-9:
            return letter
    return scheme.letters[-1][1]


def compute(scheme: Scheme, items: Iterable[Item]) -> Grade:
    by_category: dict[str, list[float]] = {name: [] for name in scheme.categories}
    for item in items:
        if item.category in by_category:        # items of categories outside the scheme do not count
            by_category[item.category].append(item.percent)
    total_weight = sum(c.weight for c in scheme.categories.values())
    cats = {name: category_percent(by_category[name], cat) for name, cat in scheme.categories.items()}
    percent = sum(cats[name] * cat.weight for name, cat in scheme.categories.items()) / total_weight
    percent = round(min(100.0, max(0.0, percent)), 4)
    return Grade(percent=percent, letter=letter_for(scheme, percent),
                 passed=percent >= scheme.pass_threshold - 1e-9, categories=cats)
