"""BM25 retrieval over a course's passages, in Python (works the same on PostgreSQL and SQLite)."""
from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass

STOPWORDS = frozenset("""a an and are as at be but by can do does for from has have how i if in into is it its
me my of on or so that the their them then there these this to was we what when where which who why will with
you your about should would could tell explain please thanks hi hello""".split())
_WORD = re.compile(r"[a-z0-9_]+")


def stem(word: str) -> str:
    """A light suffix stripper, enough to match 'indexes'/'index', 'joins'/'join'."""
    for suffix in ("ations", "ation", "ings", "ing", "ies", "es", "ed", "ly", "s"):
        if len(word) > len(suffix) + 2 and word.endswith(suffix):
            return word[: -len(suffix)] + ("y" if suffix == "ies" else "")
    return word


def terms(text: str) -> list[str]:
    return [stem(w) for w in _WORD.findall(text.lower()) if w not in STOPWORDS and len(w) > 1]


@dataclass(frozen=True)
class Doc:
    id: str
    lesson_id: str
    lesson_title: str
    text: str


@dataclass(frozen=True)
class Hit:
    doc: Doc
    score: float
    matched: int        # distinct query terms found in the passage


class BM25:
    """Okapi BM25 (k1=1.5, b=0.75) with the usual non-negative idf."""

    def __init__(self, docs: list[Doc], k1: float = 1.5, b: float = 0.75):
        self.docs, self.k1, self.b = docs, k1, b
        self.tfs = [Counter(terms(d.text)) for d in docs]
        self.lengths = [sum(tf.values()) for tf in self.tfs]
        self.avg = (sum(self.lengths) / len(docs)) if docs else 0.0
        df: Counter[str] = Counter()
        for tf in self.tfs:
            df.update(tf.keys())
        n = len(docs)
        self.idf = {t: math.log(1 + (n - f + 0.5) / (f + 0.5)) for t, f in df.items()}

    def search(self, query: str, k: int = 4, boost_lesson: str | None = None, boost: float = 1.2) -> list[Hit]:
        q = list(dict.fromkeys(terms(query)))
        hits = []
        for doc, tf, length in zip(self.docs, self.tfs, self.lengths):
            score, matched = 0.0, 0
            for t in q:
                f = tf.get(t)
                if not f:
                    continue
                matched += 1
                norm = f * (self.k1 + 1) / (f + self.k1 * (1 - self.b + self.b * length / (self.avg or 1)))
                score += self.idf[t] * norm
            if matched:
                if boost_lesson and doc.lesson_id == boost_lesson:
                    score *= boost
                hits.append(Hit(doc, score, matched))
        hits.sort(key=lambda h: (-h.score, h.doc.id))
        return hits[:k]


def relevant(hits: list[Hit], query: str, min_score: float = 1.0, min_coverage: float = 0.34) -> list[Hit]:
    """Keep hits that plausibly answer the question; an empty list means the course does not cover it.

    A hit must score at least ``min_score`` and match at least ``min_coverage`` of the distinct query terms.
    """
    q = set(terms(query))
    if not q:
        return []
    need = max(1, math.ceil(len(q) * min_coverage))
    return [h for h in hits if h.score >= min_score and h.matched >= need]
