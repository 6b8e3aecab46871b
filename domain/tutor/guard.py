"""Hint-mode guard: a reply must never hand over the exercise's reference solution, nor the
tutor's instructions.

The model is never given the reference solution (see ``prompt``); a model can still write one
(it knows the exercise). So a hint is checked whole before any of it reaches the learner, against
copies in any disguise the checks below see through:

- the solution itself, with whitespace, separators and case ignored (``p-r-i-n-t``, spaced out,
  upper case, one character per line), forwards or reversed;
- half or more of its significant lines, each compared the same way;
- its token 3-grams (identifiers, keywords, numbers; prose filler such as "of", "then", "plus"
  dropped): a paraphrase that walks through the code ("return fib of n minus 1 plus ...") shares
  most of them.

Pure functions of the reply text and the secret texts, so it can be tested without the sandbox.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

MIN_LINE_CHARS = 8           # shorter solution lines ("return x", "}") are too common to count
MIN_NGRAMS = 4               # a solution with fewer token 3-grams is too short to judge by overlap
NGRAM_SHARE = 0.5            # blocked when the reply holds this share of the solution's 3-grams
REFUSAL = ("I can't show the solution to a graded exercise, but here is a hint: re-read the lesson "
           "passages cited below, write down what the function must return for the simplest input, "
           "and build up from there.")
# words a paraphrase of code uses around its tokens; they carry none of the solution
FILLER = frozenset("""a an the of to then and or plus minus times divided by is are be it its this that with
for call calls called calling write writes use uses using value values variable named name first next
finally otherwise else when if equals equal than less greater line lines code function def""".split())
# words code shares with any program: a hint may use them freely
COMMON = frozenset("""return if else elif for while in print def int str len range true false none null
i j k n x y""".split())


def _norm(text: str) -> str:
    """Letters and digits only, case folded: spacing, separators and punctuation ignored."""
    return re.sub(r"[\W_]+", "", text.casefold())


def _tokens(text: str) -> list[str]:
    return [t for t in re.findall(r"[^\W_]+", text.casefold()) if t not in FILLER]


@lru_cache(maxsize=64)
def _ngrams(text: str) -> frozenset[tuple[str, ...]]:
    tokens = _tokens(text)
    grams = {tuple(tokens[i:i + 3]) for i in range(len(tokens) - 2)}
    return frozenset(g for g in grams if not set(g) <= COMMON)


def significant_lines(solution: str) -> list[str]:
    lines = []
    for line in solution.splitlines():
        stripped = line.strip()
        if stripped.startswith(("#", "//", '"""', "'''")):
            continue
        n = _norm(line)
        if len(n) >= MIN_LINE_CHARS:
            lines.append(n)
    return lines


@dataclass(frozen=True)
class Verdict:
    blocked: bool
    reason: str = ""


def check(reply: str, solution: str | None, secrets: tuple[str, ...] = ()) -> Verdict:
    """Blocked when the reply carries the solution (or one of ``secrets``, e.g. the instructions)
    in any of the disguises the module docstring lists."""
    if not solution or not solution.strip():
        return Verdict(False)
    text = _norm(reply)
    for secret in (solution, *secrets):
        whole = _norm(secret)
        if whole and (whole in text or whole[::-1] in text):
            return Verdict(True, "the reply contains the reference solution" if secret is solution
                           else "the reply contains the tutor's instructions")
    lines = significant_lines(solution)
    if len(lines) >= 2:
        found = sum(1 for line in lines if line in text or line[::-1] in text)
        if found >= 2 and found * 2 >= len(lines):
            return Verdict(True, f"the reply contains {found} of {len(lines)} lines of the reference solution")
    grams = _ngrams(solution)
    if len(grams) >= MIN_NGRAMS:
        tokens = _tokens(reply)
        said = {tuple(tokens[i:i + 3]) for i in range(len(tokens) - 2)}
        shared = len(grams & said)
        if shared >= NGRAM_SHARE * len(grams):
            return Verdict(True, f"the reply walks through the reference solution ({shared} of {len(grams)} "
                                 "token sequences)")
    return Verdict(False)
