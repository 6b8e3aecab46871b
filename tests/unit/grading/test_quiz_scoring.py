"""Scoring a whole attempt (no database: transient rows): time limit, totals, monotonicity."""
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

from hypothesis import given, settings, strategies as st

from domain.grading.models import Quiz, QuizQuestion
from domain.grading.quizzes import score_attempt

START = datetime(2026, 5, 1, 9, 0, tzinfo=timezone.utc)
QUIZ = Quiz(id="quiz", course_id="c", title="t", time_limit_seconds=300, attempt_policy="best")
QUESTIONS = [
    QuizQuestion(id="q1", quiz_id="quiz", position=1, points=2.0,
                 spec={"type": "single_choice", "options": ["a", "b"], "correct": 0}),
    QuizQuestion(id="q2", quiz_id="quiz", position=2, points=1.0, spec={"type": "true_false", "correct": True}),
    QuizQuestion(id="q3", quiz_id="quiz", position=3, points=3.0,
                 spec={"type": "multiple_choice", "options": ["a", "b", "c"], "correct": [0, 1]}),
]
RIGHT = {"q1": 0, "q2": True, "q3": [0, 1]}
WRONG = {"q1": 1, "q2": False, "q3": [2]}


def answer(qid, value, at=None):
    return SimpleNamespace(question_id=qid, value=value, answered_at=at)


def test_totals_and_answers_after_the_time_limit():
    answers = [answer("q1", 0, START + timedelta(seconds=100)), answer("q2", True, START + timedelta(seconds=301)),
               answer("q3", [0])]
    total, maximum, results = score_attempt(QUIZ, QUESTIONS, START, answers, submitted_at=START + timedelta(seconds=200))
    assert (total, maximum) == (3.5, 6.0)                 # 2 + (late: 0) + 1.5
    assert [r["counted"] for r in results] == [True, False, True]
    # submitted after the limit: answers without their own time are late too
    total, _, _ = score_attempt(QUIZ, QUESTIONS, START, [answer("q1", 0)], submitted_at=START + timedelta(hours=1))
    assert total == 0


@settings(deadline=None)
@given(st.lists(st.booleans(), min_size=3, max_size=3), st.integers(0, 2))
def test_one_more_right_answer_never_lowers_the_attempt(rights, flip):
    def answers(flags):
        return [answer(q.id, (RIGHT if ok else WRONG)[q.id]) for q, ok in zip(QUESTIONS, flags)]

    before, maximum, _ = score_attempt(QUIZ, QUESTIONS, START, answers(rights), START)
    better = list(rights)
    better[flip] = True
    after, _, _ = score_attempt(QUIZ, QUESTIONS, START, answers(better), START)
    assert 0 <= before <= after <= maximum
