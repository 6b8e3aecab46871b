"""Validated field types shared by every payload and request model.

Each type is an ``Annotated`` pydantic type, so its limits show in the OpenAPI schema (where a
JSON-Schema keyword can say them) and are checked by pydantic-core. What they rule out is what
the database or Python cannot hold, and what would otherwise end as a 500 deep in a request:

- ``Id`` / ``id_field``: ``[A-Za-z0-9_-]`` only, 1..32 characters (the width of the id columns).
- ``Line`` / ``line``: one line of text, no control characters (names, titles, file names, keys).
- ``Text`` / ``text``: free text; tab, newline and carriage return allowed, no other control
  characters and never NUL (PostgreSQL text and jsonb cannot store it).
- ``Int64`` / ``int_field``: integers that fit a signed 64-bit column.
- ``Finite`` / ``number``: floats without NaN or +-Infinity.
- ``When``: a timezone-aware datetime within ``WINDOW_START`` .. now + ``WINDOW_YEARS`` years,
  returned in UTC. Naive datetimes, or datetimes whose UTC value does not fit (year 1 at +14:00),
  are refused.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, Field

ID_PATTERN = r"^[A-Za-z0-9_-]+$"
ID_MAX = 32
# no C0 control characters but tab/newline/carriage return, no DEL; one-line also forbids those
TEXT_PATTERN = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"
LINE_PATTERN = r"^[^\x00-\x1f\x7f]*$"
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
WINDOW_START = datetime(2000, 1, 1, tzinfo=timezone.utc)
WINDOW_YEARS = 100
MAX_JSON_DEPTH = 32          # nesting of a request body; documented in docs/security.md


def id_field(max_length: int = ID_MAX, pattern: str = ID_PATTERN, **kw: Any) -> Any:
    """``Field`` for an id: letters, digits, ``_`` and ``-`` (or ``pattern``), at most ``max_length``."""
    return Field(min_length=1, max_length=max_length, pattern=pattern, **kw)


def line(max_length: int, min_length: int = 0, **kw: Any) -> Any:
    """``Field`` for one line of text without control characters."""
    return Field(min_length=min_length, max_length=max_length, pattern=LINE_PATTERN, **kw)


def text(max_length: int, min_length: int = 0, **kw: Any) -> Any:
    """``Field`` for free text: tab, newline, carriage return allowed; no other control character."""
    return Field(min_length=min_length, max_length=max_length, pattern=TEXT_PATTERN, **kw)


def int_field(ge: int = INT64_MIN, le: int = INT64_MAX, **kw: Any) -> Any:
    """``Field`` for an integer, bounded by 64 bits unless tighter bounds are given."""
    return Field(ge=max(ge, INT64_MIN), le=min(le, INT64_MAX), strict=False, **kw)


def number(ge: float | None = None, le: float | None = None, gt: float | None = None, **kw: Any) -> Any:
    """``Field`` for a finite float (no NaN / Infinity), optionally bounded."""
    return Field(ge=ge, le=le, gt=gt, allow_inf_nan=False, **kw)


def window_end(now: datetime | None = None) -> datetime:
    now = now or datetime.now(timezone.utc)
    try:
        return now.replace(year=now.year + WINDOW_YEARS)
    except ValueError:  # 29 February
        return now.replace(year=now.year + WINDOW_YEARS, day=28)


def _in_window(value: datetime) -> datetime:
    # compare before converting: astimezone overflows for year 1 at +14:00 or year 9999 at -12:00
    if value < WINDOW_START:
        raise ValueError(f"must not be before {WINDOW_START.date().isoformat()}")
    if value > window_end():
        raise ValueError(f"must not be more than {WINDOW_YEARS} years ahead")
    return value.astimezone(timezone.utc)


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


Id = Annotated[str, id_field()]
Line = Annotated[str, Field(max_length=1000, pattern=LINE_PATTERN)]
Text = Annotated[str, Field(max_length=100_000, pattern=TEXT_PATTERN)]
Int64 = Annotated[int, Field(ge=INT64_MIN, le=INT64_MAX)]
Finite = Annotated[float, Field(allow_inf_nan=False)]
When = Annotated[AwareDatetime, AfterValidator(_in_window),
                 Field(description=f"ISO 8601 with an offset, between {WINDOW_START.date().isoformat()} "
                                   f"and {WINDOW_YEARS} years from now")]
NoNul = AfterValidator(_no_nul)      # for strings whose shape is otherwise free (JSON values)


def _unstorable(s: str) -> bool:
    if "\x00" in s:
        return True
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:      # a lone surrogate (\ud800 without its pair): not UTF-8 at all
        return True
    return False


def find_nul(value: Any, depth: int = 0) -> bool:
    """Whether a decoded JSON value holds, in any string or key, a NUL or a lone surrogate: text
    that neither PostgreSQL nor UTF-8 can hold (iterative, any depth)."""
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, str):
            if _unstorable(v):
                return True
        elif isinstance(v, dict):
            for k, item in v.items():
                if _unstorable(k):
                    return True
                stack.append(item)
        elif isinstance(v, list):
            stack.extend(v)
    return False


def depth_of(value: Any) -> int:
    """The nesting depth of a decoded JSON value (a scalar is 0, ``[]`` is 1), iteratively."""
    deepest = 0
    stack = [(value, 0)]
    while stack:
        v, d = stack.pop()
        if isinstance(v, dict):
            d += 1
            stack.extend((item, d) for item in v.values())
        elif isinstance(v, list):
            d += 1
            stack.extend((item, d) for item in v)
        deepest = max(deepest, d)
    return deepest
