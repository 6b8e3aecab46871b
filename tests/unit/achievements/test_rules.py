"""The rule language: what a definition may say, and the clear errors when it says something else."""
import pytest
from pydantic import ValidationError

from domain.achievements import rules
from domain.achievements.defaults import DEFAULTS
from domain.achievements.kinds import BadgeDefinition


def test_the_default_set_is_built_with_the_rule_language():
    slugs = {d["slug"] for d in DEFAULTS}
    assert slugs == {"first_course", "seven_day_streak", "high_scorer", "early_bird", "perfect_score",
                     "course_completer", "streak_master", "social_learner"}
    for definition in DEFAULTS:
        BadgeDefinition.model_validate(definition)


@pytest.mark.parametrize("criteria,field", [
    ({"type": "streak"}, "days"),
    ({"type": "streak", "days": 1}, "days"),
    ({"type": "events", "event": "teleported", "at_least": 1}, "event"),
    ({"type": "events", "event": "login", "at_least": 0}, "at_least"),
    ({"type": "events", "event": "login", "at_least": 1, "local_hours": [8, 4]}, "local_hours"),
    ({"type": "scores", "min_score": 101, "items": 1}, "min_score"),
    ({"type": "scores", "min_score": float("nan"), "items": 1}, "min_score"),
    ({"type": "all", "rules": []}, "rules"),
    ({"type": "code", "python": "award()"}, "type"),
    ({"type": "streak", "days": 7, "extra": 1}, "extra"),
])
def test_bad_criteria_are_refused_naming_the_field(criteria, field):
    with pytest.raises(ValidationError) as exc:
        BadgeDefinition.model_validate({"slug": "x", "name": "X", "criteria": criteria})
    assert field in str(exc.value)


def test_nesting_is_bounded():
    deep = {"type": "streak", "days": 7}
    for _ in range(4):
        deep = {"type": "all", "rules": [deep]}
    with pytest.raises(ValidationError) as exc:
        BadgeDefinition.model_validate({"slug": "x", "name": "X", "criteria": deep})
    assert "3 deep" in str(exc.value)


def test_leaves_of_an_all_are_its_thresholds():
    rule = rules.parse({"type": "all", "rules": [{"type": "streak", "days": 7},
                                                 {"type": "peer_reviews", "at_least": 5}]})
    assert [(leaf.type, leaf.need()) for leaf in rules.leaves(rule)] == [("streak", 7), ("peer_reviews", 5)]
