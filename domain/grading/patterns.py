"""Instructor-written answer patterns, matched with RE2 (linear time: no pattern can backtrack
without end, whatever the answer), after the same normalisation as the answer.

Text on both sides is compared as ``normalise_text``: Unicode NFC, full case folding
(``Straße`` → ``strasse``, ``İ`` → ``i̇``), runs of white space collapsed. A pattern gets that
normalisation on its literal characters only (escapes, classes like ``\\p{L}``, group syntax and
flags are kept as written), so ``Straße`` as a pattern matches the answer ``STRASSE``. ``\\w`` and
``\\d`` mean Unicode letters/marks/digits (RE2 alone would read them as ASCII). A pattern must
match the whole answer.

``check`` runs when a question is authored and refuses what RE2 cannot compile (look-arounds,
back-references) or a character class holding a letter whose case folding is several letters.
"""
from __future__ import annotations

import functools
import unicodedata

import re2

MAX_PATTERN = 500
WORD = r"\p{L}\p{M}\p{N}_"
DIGIT = r"\p{Nd}"
_OPTIONS = re2.Options()
_OPTIONS.log_errors = False
_OPTIONS.case_sensitive = False   # after folding: catches what simple folds cover in ranges
_OPTIONS.max_mem = 8 << 20


class PatternError(ValueError):
    """A pattern that cannot be used as an answer pattern (message says why)."""


def normalise_text(text: str) -> str:
    """NFC, full case folding, white space collapsed: both sides of every text comparison."""
    folded = unicodedata.normalize("NFC", unicodedata.normalize("NFC", text).casefold())
    return " ".join(folded.split())


def _fold(ch: str) -> str:
    return unicodedata.normalize("NFC", ch.casefold())


def _literal(ch: str) -> str:
    folded = _fold(ch)
    if len(folded) == 1:
        return re2.escape(folded) if not folded.isalnum() else folded
    return "(?:" + re2.escape(folded) + ")"    # one unit, so a quantifier after it still applies to all of it


def _escape_end(pattern: str, i: int) -> int:
    """Index just past the escape starting at ``pattern[i] == '\\\\'``."""
    if i + 1 >= len(pattern):
        raise PatternError("the pattern ends with a lone backslash")
    c = pattern[i + 1]
    if c in "pPx" and i + 2 < len(pattern) and pattern[i + 2] == "{":
        end = pattern.find("}", i + 2)
        if end < 0:
            raise PatternError(f"unclosed \\{c}{{ in the pattern")
        return end + 1
    if c in "pP":
        return i + 3
    if c == "x":
        return i + 4
    return i + 2


def translate(pattern: str) -> str:
    """The pattern as RE2 source that matches ``normalise_text`` answers (see the module doc)."""
    pattern = unicodedata.normalize("NFC", pattern)
    out: list[str] = []
    i, n, in_class, class_start = 0, len(pattern), False, False
    while i < n:
        c = pattern[i]
        if c == "\\":
            end = _escape_end(pattern, i)
            esc = pattern[i:end]
            if esc == r"\Q":
                close = pattern.find(r"\E", end)
                text = pattern[end:] if close < 0 else pattern[end:close]
                out.append("".join(_literal(ch) for ch in text))
                i = n if close < 0 else close + 2
                continue
            if esc in (r"\w", r"\d"):
                cls = WORD if esc == r"\w" else DIGIT
                out.append(cls if in_class else f"[{cls}]")
            else:
                out.append(esc)
            i = end
        elif in_class:
            if c == "[" and pattern.startswith("[:", i):
                end = pattern.find(":]", i + 2)
                if end < 0:
                    raise PatternError("unclosed [: in a character class")
                out.append(pattern[i:end + 2])
                i, class_start = end + 2, False
                continue
            if c == "]" and not class_start:
                in_class = False
                out.append(c)
            elif c in "^-" or (c == "]" and class_start):
                out.append(c)
            else:
                folded = _fold(c)
                if len(folded) != 1:
                    raise PatternError(f"{c!r} folds to {folded!r}, which a character class cannot hold; "
                                       f"write (?:{folded}|...) instead")
                out.append(re2.escape(folded) if not folded.isalnum() else folded)
            class_start = class_start and c == "^"
            i += 1
        elif c == "[":
            in_class, class_start = True, True
            out.append(c)
            i += 1
            if i < n and pattern[i] == "^":
                out.append("^")
                i += 1
        elif c == "(" and pattern.startswith("(?", i):
            end = i + 2
            while end < n and pattern[end] not in ":)>":
                end += 1
            end = min(end + 1, n)                   # through ':' / ')' / the '>' of (?P<name>
            out.append(pattern[i:end])
            i = end
        elif c in "()|*+?.^$":
            out.append(c)
            i += 1
        elif c == "{":
            end = pattern.find("}", i)
            body = pattern[i + 1:end] if end > 0 else ""
            if end > 0 and body and all(ch.isdigit() or ch == "," for ch in body):
                out.append(pattern[i:end + 1])
                i = end + 1
            else:
                out.append(r"\{")
                i += 1
        else:
            out.append(_literal(c))
            i += 1
    if in_class:
        raise PatternError("unclosed [ in the pattern")
    return "".join(out)


@functools.lru_cache(maxsize=1024)
def compile_pattern(pattern: str):
    """The compiled RE2 program for an instructor's pattern (cached per process)."""
    if len(pattern) > MAX_PATTERN:
        raise PatternError(f"the pattern is longer than {MAX_PATTERN} characters")
    if "\x00" in pattern:
        raise PatternError("the pattern holds a NUL character")
    try:
        pattern.encode("utf-8")
    except UnicodeEncodeError:
        raise PatternError("the pattern holds text that is not valid Unicode (a lone surrogate)") from None
    source = translate(pattern)
    try:
        return re2.compile(source, _OPTIONS)
    except re2.error as exc:
        message = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        raise PatternError(f"not a pattern RE2 accepts ({message}); look-arounds and back-references "
                           "are not supported") from None


def check(pattern: str) -> None:
    """Raise PatternError when the pattern cannot be used (called when a question is authored)."""
    compile_pattern(pattern)


def matches(pattern: str, answer: str) -> bool:
    """Whether the whole normalised answer matches the pattern (linear time in the answer)."""
    return compile_pattern(pattern).fullmatch(normalise_text(answer)) is not None
