"""Answers are refused for their shape before anything is scored (intake runs these checks):
choice indexes within the question, permutations for orderings, known left items for matchings,
finite numbers within a double's range; ``None`` is "not answered"."""
import math

import pytest
from hypothesis import given, strategies as st

from domain.grading.questions import BadAnswer, check_answer, parse_spec, score

SINGLE = parse_spec({"type": "single_choice", "options": ["a", "b", "c"], "correct": 1})
MULTI = parse_spec({"type": "multiple_choice", "options": ["a", "b", "c"], "correct": [0, 2]})
NUMERIC = parse_spec({"type": "numeric", "value": 2.5, "abs_tolerance": 0.1})
ORDERING = parse_spec({"type": "ordering", "items": ["a", "b", "c"]})
MATCHING = parse_spec({"type": "matching", "pairs": {"fr": "Paris", "de": "Berlin"}})
TEXT = parse_spec({"type": "short_text", "accepted": ["x"]})


@pytest.mark.parametrize("spec, answer, says", [
    (SINGLE, 99, "option 99 does not exist"),
    (SINGLE, -1, "option -1 does not exist"),
    (SINGLE, True, "an option index"),
    (MULTI, [0, 3], "option 3 does not exist"),
    (MULTI, [-1], "option -1 does not exist"),
    (MULTI, [0, 0], "picked twice"),
    (NUMERIC, math.nan, "finite number"),
    (NUMERIC, math.inf, "finite number"),
    (NUMERIC, -math.inf, "finite number"),
    (NUMERIC, 10 ** 400, "finite number"),          # beyond float range (OverflowError, not a 500)
    (NUMERIC, "2.5", "a number"),
    (ORDERING, ["a", "b", "c", "d"], "exactly once"),   # an extra item
    (ORDERING, ["a", "b"], "exactly once"),
    (ORDERING, ["a", "a", "b"], "exactly once"),
    (MATCHING, {"fr": "Paris", "it": "Rome"}, "'it' is not a left-hand item"),
    (TEXT, "x" * 2001, "at most 2000"),
    (TEXT, "a\x00b", "NUL"),
    (TEXT, "a\ud800", "lone surrogate"),
    (MATCHING, {"fr": "\udc00"}, "lone surrogate"),
])
def test_answers_of_the_wrong_shape_are_refused(spec, answer, says):
    with pytest.raises(BadAnswer, match=says):
        check_answer(spec, answer)


@pytest.mark.parametrize("spec", [SINGLE, MULTI, NUMERIC, ORDERING, MATCHING, TEXT])
def test_none_means_not_answered(spec):
    check_answer(spec, None)
    result = score("q", spec, 2.0, None)
    assert (result.points, result.feedback) == (0.0, "Not answered.")


def test_in_range_answers_pass_and_huge_finite_numbers_score():
    check_answer(SINGLE, 2)
    check_answer(MULTI, [])
    check_answer(ORDERING, ["c", "a", "b"])
    check_answer(MATCHING, {"de": "Rome"})            # a wrong pair is a wrong answer, not a bad shape
    assert score("q", NUMERIC, 1.0, 10 ** 300).points == 0.0
    assert score("q", NUMERIC, 1.0, -1.7e308).points == 0.0


@given(st.integers(min_value=-10 ** 6, max_value=10 ** 6))
def test_a_choice_index_is_accepted_exactly_when_it_exists(index):
    try:
        check_answer(SINGLE, index)
        accepted = True
    except BadAnswer:
        accepted = False
    assert accepted == (0 <= index < 3)


def test_answer_specs_refuse_non_finite_tolerances_and_repeated_items():
    with pytest.raises(ValueError):
        parse_spec({"type": "numeric", "value": 1, "abs_tolerance": math.inf})
    with pytest.raises(ValueError):
        parse_spec({"type": "ordering", "items": ["a", "a"]})


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-10 ** 400, max_value=10 ** 400) | st.floats()
    | st.text(max_size=40) | st.text(st.characters(categories=["Cs", "Ll"]), max_size=3),
    lambda children: st.lists(children, max_size=6) | st.dictionaries(st.text(max_size=8), children, max_size=6),
    max_leaves=20)
PATTERNED = parse_spec({"type": "short_text", "accepted": ["Straße"], "pattern": r"(\w+)+ \d{2,}"})


@given(st.sampled_from([SINGLE, MULTI, NUMERIC, ORDERING, MATCHING, TEXT, PATTERNED,
                        parse_spec({"type": "true_false", "correct": False})]), json_values)
def test_any_json_answer_is_either_refused_as_bad_or_scored(spec, answer):
    try:
        check_answer(spec, answer)
    except BadAnswer:
        return
    result = score("q", spec, 3.0, answer)
    assert 0.0 <= result.points <= 3.0
