"""Creating grading content (what the web tier, the demo and tests call). Specs are validated
by their pydantic models before anything is written."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from domain.grading import course_grades
from domain.grading.models import Assignment, GradingScheme, Quiz, QuizQuestion
from domain.grading.policies import LatePolicy
from domain.grading.questions import parse_spec
from domain.grading.rubrics import Rubric


def set_scheme(session: Session, course_id: str, scheme: course_grades.Scheme | dict) -> GradingScheme:
    scheme = scheme if isinstance(scheme, course_grades.Scheme) else course_grades.Scheme.model_validate(scheme)
    row = session.get(GradingScheme, course_id) or GradingScheme(course_id=course_id)
    row.categories = {name: cat.model_dump() for name, cat in scheme.categories.items()}
    row.pass_threshold = scheme.pass_threshold
    row.letters = [[m, l] for m, l in scheme.letters]
    session.add(row)
    session.flush()
    return row


def create_quiz(session: Session, course_id: str, title: str, questions: list[dict], *, max_attempts: int | None = None,
                time_limit_seconds: int | None = None, attempt_policy: str = "best", category: str = "quiz",
                lesson_id: str | None = None) -> Quiz:
    """``questions``: [{"points": 2, "spec": {"type": "single_choice", ...}}, ...]"""
    if attempt_policy not in ("best", "last", "average"):
        raise ValueError("attempt_policy must be best, last or average")
    quiz = Quiz(course_id=course_id, title=title, max_attempts=max_attempts, time_limit_seconds=time_limit_seconds,
                attempt_policy=attempt_policy, category=category, lesson_id=lesson_id)
    session.add(quiz)
    session.flush()
    for position, q in enumerate(questions, start=1):
        spec = parse_spec(q["spec"])
        points = float(q.get("points", 1.0))
        if points < 0:
            raise ValueError("points must not be negative")
        question = QuizQuestion(quiz_id=quiz.id, position=position, points=points, spec=spec.model_dump(mode="json"))
        if q.get("id"):
            question.id = q["id"]
        session.add(question)
    session.flush()
    return quiz


def update_question_spec(session: Session, question_id: str, spec: dict) -> QuizQuestion:
    """Change an answer key (then run ``regrade_course``)."""
    question = session.get(QuizQuestion, question_id)
    question.spec = parse_spec(spec).model_dump(mode="json")
    session.flush()
    return question


def create_assignment(session: Session, course_id: str, title: str, rubric: list[dict], *,
                      due_at: datetime | None = None, late_policy: dict | None = None, peer_weight: float = 0.0,
                      category: str = "assignment") -> Assignment:
    checked = Rubric.model_validate({"criteria": rubric})
    policy = LatePolicy.model_validate(late_policy or {})
    if not 0 <= peer_weight <= 1:
        raise ValueError("peer_weight must be within [0, 1]")
    assignment = Assignment(course_id=course_id, title=title, rubric=checked.model_dump(mode="json")["criteria"],
                            due_at=due_at, late_policy=policy.model_dump(mode="json"), peer_weight=peer_weight,
                            category=category)
    session.add(assignment)
    session.flush()
    return assignment
