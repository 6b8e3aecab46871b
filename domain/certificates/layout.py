"""Fit a name or a title into a box: one line when it fits at a size not far below the design
size, else wrapped at Unicode line break opportunities (UAX #14, ``uniseg``) into at most
``max_lines`` lines, never below a readable minimum size; at that size, as a last resort, between
any two grapheme clusters (a long word with no break opportunity, e.g. Thai written without
spaces). Text that still does not fit is refused (``TooLong``), never squeezed into an
unreadable size or cut.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from uniseg.graphemecluster import grapheme_clusters
from uniseg.linebreak import line_break_units

from domain.certificates.shaping import Line, is_rtl, shape_line

LEADING = 1.22          # line height / font size
ONE_LINE_SHRINK = 0.7   # shrink one line down to this share of the design size before wrapping
STEP = 0.94             # size step while looking for a wrapping that fits


class TooLong(ValueError):
    pass


@dataclass(frozen=True)
class Block:
    size: float
    lines: tuple[Line, ...]

    @property
    def height(self) -> float:
        return self.size * LEADING * len(self.lines)


def _units(text: str, anywhere: bool) -> list[str]:
    """Line break units (UAX #14); ``anywhere``: grapheme clusters too, inside words, for text
    with no break opportunity where it needs one (Thai without spaces, a long URL)."""
    units = list(line_break_units(text))
    if not anywhere:
        return units
    return [cluster for unit in units for cluster in grapheme_clusters(unit)]


def wrap(text: str, bold: bool, size: float, width: float, rtl: bool, anywhere: bool = False) -> list[Line]:
    """Greedy line filling at break opportunities; a unit wider than the box gets a line of its own."""
    lines: list[Line] = []
    current = ""
    for unit in _units(text, anywhere):
        candidate = current + unit
        if current and shape_line(candidate.rstrip(), bold, rtl).advance * size > width:
            lines.append(shape_line(current.rstrip(), bold, rtl))
            current = unit
        else:
            current = candidate
    if current.strip():
        lines.append(shape_line(current.rstrip(), bold, rtl))
    return lines


def fit(text: str, *, bold: bool, width: float, height: float, size: float, min_size: float,
        max_lines: int = 3, what: str = "text") -> Block:
    text = re.sub(r"[ \t\r\n]+", " ", text).strip()     # other spaces (en, em) are kept
    rtl = is_rtl(text)
    one = shape_line(text, bold, rtl)
    one_size = min(size, width / one.advance if one.advance else size, height / LEADING)
    if one_size >= max(min_size, size * ONE_LINE_SHRINK):
        return Block(one_size, (one,))
    s = max(min_size, size * ONE_LINE_SHRINK)     # wrapped text is never larger than one line of it
    while True:
        lines = wrap(text, bold, s, width, rtl)
        if len(lines) <= max_lines and all(line.advance * s <= width for line in lines) \
                and s * LEADING * len(lines) <= height:
            return Block(s, tuple(lines))
        if s <= min_size:
            lines = wrap(text, bold, s, width, rtl, anywhere=True)       # the last resort
            if len(lines) <= max_lines and s * LEADING * len(lines) <= height:
                return Block(s, tuple(lines))
            raise TooLong(f"the {what} is too long to print: it needs more than {max_lines} lines "
                          f"at {min_size:g} pt ({len(text)} characters)")
        s = max(s * STEP, min_size)
