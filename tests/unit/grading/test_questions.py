"""Every question type by example, plus properties: a score stays in [0, points] and more
right answers never lower it."""
import pytest
from hypothesis import given, settings, strategies as st

from domain.grading.questions import BadAnswer, MultipleChoice, Ordering, Matching, parse_spec, score


def s(**spec):
    return parse_spec(spec)


@pytest.mark.parametrize("spec, answer, points", [
    (dict(type="single_choice", options=["a", "b", "c"], correct=1), 1, 2.0),
    (dict(type="single_choice", options=["a", "b", "c"], correct=1), 2, 0.0),
    (dict(type="true_false", correct=False), False, 2.0),
    (dict(type="true_false", correct=False), True, 0.0),
    (dict(type="multiple_choice", options=list("abcd"), correct=[0, 2]), [0, 2], 2.0),
    (dict(type="multiple_choice", options=list("abcd"), correct=[0, 2]), [0], 1.0),          # partial
    (dict(type="multiple_choice", options=list("abcd"), correct=[0, 2]), [0, 1], 0.0),       # 1 right − 1 wrong
    (dict(type="multiple_choice", options=list("abcd"), correct=[0, 2]), [1, 3], 0.0),       # floored at 0
    (dict(type="multiple_choice", options=list("abcd"), correct=[0, 2], wrong_pick_penalty=0.5), [0, 2, 1], 1.5),
    (dict(type="numeric", value=3.14, abs_tolerance=0.01), 3.149, 2.0),
    (dict(type="numeric", value=3.14, abs_tolerance=0.01), 3.16, 0.0),
    (dict(type="numeric", value=200, rel_tolerance=0.05), 209, 2.0),
    (dict(type="numeric", value=200, rel_tolerance=0.05), 211, 0.0),
    (dict(type="numeric", value=7), 7, 2.0),
    (dict(type="short_text", accepted=["New  York", "NYC"]), "  new york ", 2.0),
    (dict(type="short_text", accepted=["NYC"]), "nyc", 2.0),
    (dict(type="short_text", accepted=["Paris"]), "London", 0.0),
    (dict(type="short_text", pattern=r"colou?r"), "COLOR", 2.0),
    (dict(type="short_text", pattern=r"colou?r"), "colors", 0.0),                          # full match only
    (dict(type="ordering", items=["a", "b", "c", "d"]), ["a", "b", "c", "d"], 2.0),
    (dict(type="ordering", items=["a", "b", "c", "d"]), ["a", "b", "d", "c"], 1.0),
    (dict(type="matching", pairs={"fr": "Paris", "de": "Berlin"}), {"fr": "Paris", "de": "Berlin"}, 2.0),
    (dict(type="matching", pairs={"fr": "Paris", "de": "Berlin"}), {"fr": "Paris", "de": "Rome"}, 1.0),
])
def test_each_type_scores_as_specified(spec, answer, points):
    result = score("q", s(**spec), 2.0, answer)
    assert result.points == pytest.approx(points)
    assert result.correct == (points == 2.0)
    assert result.feedback in ("Correct.", "Not quite.")


def test_unanswered_scores_zero_with_feedback():
    result = score("q", s(type="true_false", correct=True), 3.0, None)
    assert (result.points, result.max_points, result.feedback) == (0.0, 3.0, "Not answered.")


@pytest.mark.parametrize("spec, answer", [
    (dict(type="numeric", value=1), "one"),
    (dict(type="single_choice", options=["a", "b"], correct=0), "a"),
    (dict(type="true_false", correct=True), 1),
    (dict(type="multiple_choice", options=["a", "b"], correct=[0]), 0),
    (dict(type="matching", pairs={"a": "b"}), ["b"]),
])
def test_wrong_answer_shape_is_refused(spec, answer):
    with pytest.raises(BadAnswer):
        score("q", s(**spec), 1.0, answer)


@pytest.mark.parametrize("spec", [
    dict(type="single_choice", options=["a", "b"], correct=5),
    dict(type="multiple_choice", options=["a", "b"], correct=[0, 0]),
    dict(type="short_text"),
    dict(type="short_text", pattern="("),
    dict(type="essay"),
])
def test_invalid_specs_are_refused(spec):
    with pytest.raises(Exception):
        parse_spec(spec)


options = st.integers(min_value=2, max_value=8)


@st.composite
def multiple_choice_and_picks(draw):
    n = draw(options)
    correct = draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=n, unique=True))
    penalty = draw(st.floats(0, 3))
    picks = draw(st.lists(st.integers(0, n - 1), max_size=n, unique=True))
    return MultipleChoice(options=[str(i) for i in range(n)], correct=correct, wrong_pick_penalty=penalty), picks


@settings(deadline=None)
@given(multiple_choice_and_picks(), st.floats(0, 100))
def test_multiple_choice_score_is_within_bounds(case, points):
    spec, picks = case
    result = score("q", spec, points, picks)
    assert 0 <= result.points <= points + 1e-9


@settings(deadline=None)
@given(multiple_choice_and_picks())
def test_picking_one_more_right_option_never_lowers_the_score(case):
    spec, picks = case
    missing = [c for c in spec.correct if c not in picks]
    before = score("q", spec, 1.0, picks).points
    if missing:
        assert score("q", spec, 1.0, picks + [missing[0]]).points >= before
    wrong = [p for p in picks if p not in spec.correct]
    if wrong:   # dropping a wrong pick never lowers it either
        assert score("q", spec, 1.0, [p for p in picks if p != wrong[0]]).points >= before


@settings(deadline=None)
@given(st.lists(st.text(min_size=1, max_size=3), min_size=2, max_size=6, unique=True), st.data())
def test_ordering_fixing_a_position_never_lowers_the_score(items, data):
    spec = Ordering(items=items)
    answer = data.draw(st.permutations(items))
    before = score("q", spec, 1.0, list(answer)).points
    assert 0 <= before <= 1
    i = data.draw(st.integers(0, len(items) - 1))
    fixed = list(answer)
    j = fixed.index(items[i])
    fixed[i], fixed[j] = fixed[j], fixed[i]      # put item i in its place (moves one other)
    right_before = sum(a == b for a, b in zip(answer, items))
    right_after = sum(a == b for a, b in zip(fixed, items))
    assert right_after >= right_before
    assert score("q", spec, 1.0, fixed).points >= before


@settings(deadline=None)
@given(st.dictionaries(st.text(min_size=1, max_size=3), st.text(min_size=1, max_size=3), min_size=1, max_size=6),
       st.data())
def test_matching_more_right_pairs_never_lower_the_score(pairs, data):
    spec = Matching(pairs=pairs)
    answer = {k: data.draw(st.sampled_from([v, v + "x"])) for k, v in pairs.items()}
    before = score("q", spec, 1.0, answer).points
    key = data.draw(st.sampled_from(sorted(pairs)))
    assert score("q", spec, 1.0, answer | {key: pairs[key]}).points >= before
    assert 0 <= before <= 1
