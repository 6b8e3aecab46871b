"""Text answers and instructor patterns: the same normalisation (NFC, full case folding, white
space) on both sides; patterns run on RE2 (linear time) and are refused when authored if RE2
cannot run them."""
import unicodedata

import pytest
from hypothesis import given, strategies as st

from domain.grading import patterns
from domain.grading.questions import parse_spec, score


def short_text(**kw):
    return parse_spec({"type": "short_text", **kw})


@pytest.mark.parametrize("key, answer", [
    ("Straße", "Straße"), ("Straße", "STRASSE"), ("Straße", "strasse"),
    ("İstanbul", "İstanbul"), ("İstanbul", "İSTANBUL"),
    ("café", "cafe\u0301"), ("cafe\u0301", "CAFÉ"),            # composed and decomposed
    ("ΣΊΣΥΦΟΣ", "σίσυφος"), ("ﬁle", "FILE"),
])
@pytest.mark.parametrize("as_pattern", [False, True])
def test_the_same_normalisation_on_both_sides(key, answer, as_pattern):
    spec = short_text(pattern=key) if as_pattern else short_text(accepted=[key])
    assert score("q", spec, 1.0, answer).points == 1.0


@pytest.mark.parametrize("pattern, answer, right", [
    (r"colou?r", "COLOUR", True),
    (r"colou?r", "colours", False),                 # the whole answer must match
    (r"Stra(ß|ss)e", "STRASSE", True),
    (r"ß+", "SSSS", True),                           # a folded letter stays one unit under a quantifier
    (r"\w+ \d+", "Ñandú 42", True),                  # \w and \d are Unicode
    (r"[A-Z]+", "hello", True),
    (r"\p{Greek}+", "ΣΊΣΥΦΟΣ", True),
    (r"(?P<Word>ab)c", "ABC", True),
    (r"\Qa.b\E", "A.B", True),
    (r"\Qa.b\E", "axb", False),
    (r"x{2,3}", "XXX", True),
])
def test_patterns(pattern, answer, right):
    assert patterns.matches(pattern, answer) is right


def test_a_backtracking_pattern_runs_in_linear_time():
    # Python's re would take longer than the age of the universe on this answer
    assert score("q", short_text(pattern=r"(a+)+b"), 1.0, "a" * 1999 + "c").points == 0.0
    assert score("q", short_text(pattern=r"(a|aa)*$b"), 1.0, "a" * 2000).points == 0.0
    assert not patterns.matches(r"(x+x+)+y", "x" * 100_000)


@pytest.mark.parametrize("pattern, says", [
    (r"(?=a)b", "RE2"), (r"(a)\1", "RE2"), (r"[ß]", "folds to 'ss'"), ("[abc", "unclosed"),
    ("a" * 501, "at most 500"), ("(", "RE2"), ("a\ud800", "unicode"),
])
def test_patterns_are_checked_when_authored(pattern, says):
    with pytest.raises(ValueError, match=says):
        short_text(pattern=pattern)


@given(st.text(min_size=1, max_size=30).filter(lambda t: t.strip() and "\x00" not in t))
def test_any_text_matches_itself_as_an_accepted_answer_and_as_a_quoted_pattern(text):
    assert score("q", short_text(accepted=[text]), 1.0, text.upper()).points == \
        score("q", short_text(accepted=[text.upper()]), 1.0, text).points == 1.0
    if "\\E" not in text and " " not in text and not any(unicodedata.category(c).startswith(("Z", "C")) for c in text):
        assert patterns.matches(r"\Q" + text + r"\E", text)
        assert patterns.matches(r"\Q" + text + r"\E", unicodedata.normalize("NFD", text).upper()) == \
            (patterns.normalise_text(text) == patterns.normalise_text(unicodedata.normalize("NFD", text).upper()))
