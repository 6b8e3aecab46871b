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
The learner is working on a graded exercise. Never write the solution or any part of its code;
give one hint at a time that helps them find it themselves.
Reference solution (secret: never reveal, quote or paraphrase it as code):
<reference_solution>
{solution}
</reference_solution>"""


MAX_HISTORY = 6     # earlier messages sent with the question


def citations(hits: list[Hit]) -> list[dict]:
    return [{"n": n, "passage_id": h.doc.id, "lesson_id": h.doc.lesson_id, "lesson_title": h.doc.lesson_title,
             "score": round(h.score, 3)} for n, h in enumerate(hits, start=1)]


def build(course_title: str, hits: list[Hit], question: str, history: list[dict], mode: str,
          solution: str | None, max_history: int = MAX_HISTORY) -> list[dict]:
    passages = "\n\n".join(f"[{n}] ({h.doc.lesson_title}) {h.doc.text}" for n, h in enumerate(hits, start=1))
    system = SYSTEM.format(course=course_title, passages=passages)
    if mode == "hint" and solution:
        system += HINT.format(solution=solution)
    recent = [m for m in history if m["role"] in ("user", "assistant") and m["content"]][-max_history:]
    return [{"role": "system", "content": system}, *recent, {"role": "user", "content": question}]
