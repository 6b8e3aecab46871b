"""Rubrics: criteria with levels and points; an instructor picks one level per criterion."""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator


class Level(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(min_length=1, max_length=64)
    title: str = Field(default="", max_length=300)
    points: float = Field(ge=0, le=10_000)


class Criterion(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(min_length=1, max_length=64)
    title: str = Field(default="", max_length=300)
    levels: list[Level] = Field(min_length=1, max_length=20)

    @model_validator(mode="after")
    def _unique_levels(self):
        if len({lv.id for lv in self.levels}) != len(self.levels):
            raise ValueError(f"criterion {self.id!r} repeats a level id")
        return self

    @property
    def max_points(self) -> float:
        return max(lv.points for lv in self.levels)


class Rubric(BaseModel):
    model_config = ConfigDict(extra="forbid")
    criteria: list[Criterion] = Field(min_length=1, max_length=50)

    @model_validator(mode="after")
    def _unique_criteria(self):
        if len({c.id for c in self.criteria}) != len(self.criteria):
            raise ValueError("the rubric repeats a criterion id")
        return self

    @property
    def max_points(self) -> float:
        return sum(c.max_points for c in self.criteria)


class RubricError(ValueError):
    """A choice naming a criterion or level that the rubric does not have, or missing one."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def check_choices(rubric: Rubric, choices: dict[str, str]) -> None:
    by_id = {c.id: c for c in rubric.criteria}
    for criterion_id, level_id in choices.items():
        criterion = by_id.get(criterion_id)
        if criterion is None:
            raise RubricError(f"rubric.{criterion_id}", f"no criterion {criterion_id!r} in this rubric")
        if level_id not in {lv.id for lv in criterion.levels}:
            raise RubricError(f"rubric.{criterion_id}",
                              f"no level {level_id!r}; levels are {', '.join(lv.id for lv in criterion.levels)}")
    missing = [c.id for c in rubric.criteria if c.id not in choices]
    if missing:
        raise RubricError(f"rubric.{missing[0]}", "every criterion needs a level")


def score_rubric(rubric: Rubric, choices: dict[str, str]) -> tuple[float, float]:
    """(points, max points) for one level chosen per criterion."""
    check_choices(rubric, choices)
    points = 0.0
    for criterion in rubric.criteria:
        points += next(lv.points for lv in criterion.levels if lv.id == choices[criterion.id])
    return points, rubric.max_points
