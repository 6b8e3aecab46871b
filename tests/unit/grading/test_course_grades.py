"""Weighted categories, drop-lowest-N, expected items, pass threshold and letters."""
import pytest
from hypothesis import given, settings, strategies as st

from domain.grading.course_grades import Category, Item, Scheme, compute

SCHEME = Scheme(categories={"quiz": Category(weight=30, drop_lowest=1), "assignment": Category(weight=50),
                            "code": Category(weight=20)}, pass_threshold=60)


def test_weighted_categories_with_drop_lowest():
    items = [Item("quiz", 2, 10), Item("quiz", 8, 10), Item("quiz", 10, 10),     # drop 20 % → mean(80, 100) = 90
             Item("assignment", 7, 10), Item("code", 100, 100)]
    grade = compute(SCHEME, items)
    assert grade.categories == {"quiz": 90.0, "assignment": 70.0, "code": 100.0}
    assert grade.percent == pytest.approx(0.3 * 90 + 0.5 * 70 + 0.2 * 100)
    assert (grade.letter, grade.passed) == ("B", True)


def test_missing_category_counts_zero_and_unknown_categories_are_ignored():
    grade = compute(SCHEME, [Item("quiz", 10, 10), Item("bonus", 10, 10)])
    assert grade.percent == pytest.approx(30.0)
    assert (grade.letter, grade.passed) == ("F", False)


def test_expected_items_pad_with_zeros_before_dropping():
    scheme = Scheme(categories={"quiz": Category(weight=1, drop_lowest=1, expected=4)})
    assert compute(scheme, [Item("quiz", 10, 10), Item("quiz", 10, 10)]).percent == pytest.approx(200 / 3)


def test_drop_lowest_keeps_at_least_one_item():
    scheme = Scheme(categories={"quiz": Category(weight=1, drop_lowest=5)})
    assert compute(scheme, [Item("quiz", 4, 10)]).percent == pytest.approx(40.0)


def test_letter_boundaries_and_custom_scale():
    scheme = Scheme(categories={"q": Category(weight=1)}, pass_threshold=50,
                    letters=[(0, "fail"), (50, "pass"), (85, "distinction")])
    assert compute(scheme, [Item("q", 85, 100)]).letter == "distinction"
    assert compute(scheme, [Item("q", 50, 100)]).letter == "pass"
    assert compute(scheme, [Item("q", 49.9, 100)]).letter == "fail"
    with pytest.raises(ValueError):
        Scheme(categories={"q": Category(weight=1)}, letters=[(10, "A")])


items = st.lists(st.builds(Item, st.sampled_from(["quiz", "assignment", "code"]), st.floats(0, 100),
                           st.just(100.0)), max_size=15)


@settings(deadline=None)
@given(items)
def test_course_grade_is_a_percent(xs):
    grade = compute(SCHEME, xs)
    assert 0 <= grade.percent <= 100
    assert grade.passed == (grade.percent >= 60)


@settings(deadline=None)
@given(items, st.data())
def test_raising_one_item_never_lowers_the_course_grade(xs, data):
    if not xs:
        return
    i = data.draw(st.integers(0, len(xs) - 1))
    better = list(xs)
    better[i] = Item(xs[i].category, data.draw(st.floats(xs[i].score, 100)), 100.0)
    assert compute(SCHEME, better).percent >= compute(SCHEME, xs).percent - 1e-9


@settings(deadline=None)
@given(items)
def test_dropping_lowest_never_lowers_a_category(xs):
    no_drop = Scheme(categories={"quiz": Category(weight=1)})
    drop = Scheme(categories={"quiz": Category(weight=1, drop_lowest=2)})
    assert compute(drop, xs).percent >= compute(no_drop, xs).percent - 1e-9
