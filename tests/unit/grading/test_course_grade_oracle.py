"""The course-grade computation against the independent oracle written from the docs."""
import pytest
from hypothesis import given, settings, strategies as st

from domain.grading import course_grades
from tests.integration.grading import oracle

CATEGORIES = ["quiz", "assignment", "code", "lab"]

schemes = st.fixed_dictionaries({
    "categories": st.dictionaries(st.sampled_from(CATEGORIES[:3]), st.fixed_dictionaries({
        "weight": st.floats(0.5, 100), "drop_lowest": st.integers(0, 3), "expected": st.integers(0, 6)}),
        min_size=1),
    "pass_threshold": st.floats(0, 100),
})
items = st.lists(st.tuples(st.sampled_from(CATEGORIES), st.floats(-5, 120), st.sampled_from([0.0, 1.0, 10.0, 100.0])),
                 max_size=25)


@settings(max_examples=300, deadline=None)
@given(schemes, items)
def test_compute_agrees_with_the_oracle(scheme, given_items):
    grade = course_grades.compute(course_grades.Scheme.model_validate(scheme),
                                  [course_grades.Item(c, s, m) for c, s, m in given_items])
    percent, letter, passed = oracle.course_grade(scheme, given_items)
    assert grade.percent == pytest.approx(percent, abs=1e-4)
    if abs(grade.percent - percent) < 1e-9:
        assert (grade.letter, grade.passed) == (letter, passed)
