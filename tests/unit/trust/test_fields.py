"""The shared field types and the JSON body guard, against hypothesis-generated inputs and the
standard library as the oracle."""
from __future__ import annotations

import json
import math
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings, strategies as st
from pydantic import BaseModel, ValidationError

from domain.core import fields
from domain.core.fields import Id, Int64, When, depth_of, find_nul, line, number, text
from intake.body import load_json
from intake.errors import ApiError


class Sample(BaseModel):
    id: Id = "x"
    name: str = line(100, default="")
    body: str = text(1000, default="")
    n: Int64 = 0
    f: float = number(default=0.0)
    at: When | None = None


CONTROL = [chr(c) for c in (*range(0, 32), 127)]


@pytest.mark.parametrize("ch", CONTROL)
def test_control_characters_are_refused_in_one_line_text_and_ids(ch):
    with pytest.raises(ValidationError):
        Sample(name=f"a{ch}b")
    with pytest.raises(ValidationError):
        Sample(id=f"a{ch}b")
    if ch in "\t\n\r":
        assert Sample(body=f"a{ch}b").body == f"a{ch}b"
    else:
        with pytest.raises(ValidationError):
            Sample(body=f"a{ch}b")


@given(st.text(max_size=50))
def test_text_accepts_exactly_the_strings_without_forbidden_controls(s):
    forbidden = any(c in CONTROL and c not in "\t\n\r" for c in s)
    try:
        Sample(body=s)
        assert not forbidden
    except ValidationError:
        assert forbidden


@given(st.integers())
def test_int64_bounds(n):
    fits = -(2**63) <= n <= 2**63 - 1
    try:
        Sample(n=n)
        assert fits
    except ValidationError:
        assert not fits


@pytest.mark.parametrize("v", [math.nan, math.inf, -math.inf])
def test_non_finite_numbers_are_refused(v):
    with pytest.raises(ValidationError):
        Sample(f=v)


@pytest.mark.parametrize("raw", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-12:00", "1999-12-31T23:59:59Z",
                                 "2024-01-01T00:00:00", "2024-01-01"])
def test_datetimes_outside_the_window_or_naive_are_refused(raw):
    with pytest.raises(ValidationError):
        Sample.model_validate_json(json.dumps({"at": raw}))


def test_datetimes_inside_the_window_come_back_in_utc():
    at = Sample(at="2030-06-01T12:00:00+02:00").at
    assert at == datetime(2030, 6, 1, 10, tzinfo=timezone.utc) and at.utcoffset() == timedelta(0)
    assert Sample(at=fields.window_end() - timedelta(days=1)).at is not None


# ---------------------------------------------------------------- the body guard

def refused(raw) -> ApiError:
    with pytest.raises(ApiError) as exc:
        load_json(raw)
    assert exc.value.status in (400, 422)
    return exc.value


@pytest.mark.parametrize("raw", [b'{"a": NaN}', b'{"a": Infinity}', b'[-Infinity]', b'[1e400]', b'[-1e999]'])
def test_non_finite_literals_are_not_json(raw):
    assert refused(raw).status == 400


def test_huge_integers_and_deep_nesting_are_refused():
    assert refused(b"[1" + b"0" * 5000 + b"]").status == 422
    assert refused(b"[" + str(2**63).encode() + b"]").status == 422
    assert load_json(b"[" + str(2**63 - 1).encode() + b"]") == [2**63 - 1]
    assert load_json(b"[" + str(-(2**63)).encode() + b"]") == [-(2**63)]
    for depth in (fields.MAX_JSON_DEPTH + 1, 1000, 100_000):
        assert refused(b"[" * depth + b"]" * depth).status == 422
    ok = b"[" * fields.MAX_JSON_DEPTH + b"]" * fields.MAX_JSON_DEPTH
    assert depth_of(load_json(ok)) == fields.MAX_JSON_DEPTH


def test_nul_anywhere_is_refused_but_an_escaped_backslash_is_not():
    for raw in (b'{"a": "x\\u0000"}', b'{"\\u0000": 1}', b'[[{"b": ["\\u0000"]}]]'):
        assert refused(raw).status == 422
    assert load_json(b'{"a": "x\\\\u0000"}') == {"a": "x\\u0000"}


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4),
    max_leaves=30)


@settings(max_examples=300)
@given(json_values)
def test_the_guard_agrees_with_the_standard_library(value):
    raw = json.dumps(value)
    expected = json.loads(raw)
    bad = (find_nul(expected) or depth_of(expected) > fields.MAX_JSON_DEPTH
           or any(isinstance(v, int) and not isinstance(v, bool) and not -(2**63) <= v < 2**63
                  for v in _scalars(expected)))
    try:
        assert load_json(raw.encode()) == expected
        assert not bad
    except ApiError:
        assert bad


def _scalars(v):
    stack = [v]
    while stack:
        x = stack.pop()
        if isinstance(x, dict):
            stack.extend(x.values())
        elif isinstance(x, list):
            stack.extend(x)
        else:
            yield x


def test_lone_surrogates_are_refused_but_pairs_are_kept():
    assert refused(b'{"a": "x\\ud800"}').status == 422
    assert refused(b'{"a": ["\\uDFFF"]}').status == 422
    assert load_json(b'{"a": "\\ud83d\\ude00"}') == {"a": "\U0001F600"}
