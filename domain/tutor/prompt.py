"""The messages sent to the model: instructions, numbered course passages, recent history."""
from __future__ import annotations

from domain.tutor.retrieval import Hit

NOT_COVERED = ("The course content does not cover this question, so I can't answer it from the course. "
               "Try rephrasing it with the terms used in the lessons, or ask your instructor.")

SYSTEM = """You are a patient tutor for the course "{course}".
Answer only from the numbered course passages below and cite them as [1], [2]...
If the passages do not answer the question, say that the course content does not cover it.
Keep answers short and clear.

Course passages:
{passages}"""

HINT = """
The learner is working on a graded exercise. Never write the solution or any part of its code,
in any form (spelled out, spaced, reversed, line by line or described step by step); give one
hint at a time that helps them find it themselves, from the exercise and their own code below.

Exercise: {title}
{description}
{cases}
The learner's latest code ({language}):
<learner_code>
{code}
</learner_code>"""
HINT_RULES = HINT.split("\n\nExercise:")[0].strip()   # the instructions a reply must never repeat


MAX_HISTORY = 6     # earlier messages sent with the question


def citations(hits: list[Hit]) -> list[dict]:
    return [{"n": n, "passage_id": h.doc.id, "lesson_id": h.doc.lesson_id, "lesson_title": h.doc.lesson_title,
             "score": round(h.score, 3)} for n, h in enumerate(hits, start=1)]


def _hint(exercise) -> str:
    cases = "".join(f"Example {i}: input {c['stdin']!r} gives {c['expected']!r}\n"
                    for i, c in enumerate(exercise.visible_cases, start=1))
    return HINT.format(title=exercise.title, description=exercise.description, cases=cases,
                       language=exercise.language or "not submitted yet", code=exercise.code or "(none yet)")


def build(course_title: str, hits: list[Hit], question: str, history: list[dict], mode: str,
          exercise=None, max_history: int = MAX_HISTORY) -> list[dict]:
    """The messages for one reply. In hint mode the model gets the exercise, its visible cases
    and the learner's code (``exercises.HintContext``), never the reference solution."""
    passages = "\n\n".join(f"[{n}] ({h.doc.lesson_title}) {h.doc.text}" for n, h in enumerate(hits, start=1))
    system = SYSTEM.format(course=course_title, passages=passages)
    if mode == "hint" and exercise is not None:
        system += _hint(exercise)
    recent = [m for m in history if m["role"] in ("user", "assistant") and m["content"]][-max_history:]
    return [{"role": "system", "content": system}, *recent, {"role": "user", "content": question}]
