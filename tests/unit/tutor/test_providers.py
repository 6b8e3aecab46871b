from domain.tutor import prompt
from domain.tutor.providers import Delta, LocalTutor, Usage, backoff, retry_after_seconds
from domain.tutor.retrieval import Doc, Hit


def test_retry_after_forms():
    assert retry_after_seconds({"retry-after": "3"}) == 3.0
    assert retry_after_seconds({"retry-after-ms": "250", "retry-after": "9"}) == 0.25
    assert retry_after_seconds({"retry-after": "Wed, 21 Oct 2015 07:28:10 GMT"}, now=1445412480.0) == 10.0
    assert retry_after_seconds({"retry-after": "soon"}) is None
    assert retry_after_seconds({}) is None


def test_backoff_grows_and_is_capped():
    assert 0.1875 <= backoff(0) <= 0.25
    assert 0.75 <= backoff(2) <= 1.0
    assert 6.0 <= backoff(30) <= 8.0


def _hits():
    return [Hit(Doc("p1", "l-joins", "Joins", "Intro text here. A LEFT JOIN keeps every row of the left table. "
                    "Other words."), 3.0, 2),
            Hit(Doc("p2", "l-nulls", "NULL", "NULL marks a missing value. COALESCE picks a default."), 1.5, 1)]


def test_local_tutor_answers_from_the_passages_and_cites_them():
    tutor = LocalTutor(_hits(), "What does a LEFT JOIN keep?")
    items = list(tutor.stream([{"role": "user", "content": "What does a LEFT JOIN keep?"}]))
    text = "".join(i.text for i in items if isinstance(i, Delta))
    assert "A LEFT JOIN keeps every row of the left table." in text
    assert "[1]" in text and "[2]" in text
    usage = items[-1]
    assert isinstance(usage, Usage) and usage.completion_tokens > 0


def test_prompt_numbers_passages_and_gives_the_exercise_never_a_solution_in_hint_mode():
    from domain.tutor.exercises import HintContext

    hits = _hits()
    exercise = HintContext("FizzBuzz", "Print Fizz or the number.", ({"stdin": "3", "expected": "Fizz"},),
                           "python", "print(n)")
    explain = prompt.build("SQL", hits, "q?", [{"role": "user", "content": "earlier"}], "explain", exercise)
    assert "[1] (Joins)" in explain[0]["content"] and "[2] (NULL)" in explain[0]["content"]
    assert "FizzBuzz" not in explain[0]["content"]
    assert explain[1:] == [{"role": "user", "content": "earlier"}, {"role": "user", "content": "q?"}]
    hint = prompt.build("SQL", hits, "q?", [], "hint", exercise)[0]["content"]
    assert "Exercise: FizzBuzz" in hint and "Print Fizz or the number." in hint
    assert "input '3' gives 'Fizz'" in hint and "<learner_code>\nprint(n)\n</learner_code>" in hint
    assert "reference_solution" not in hint
    assert [c["lesson_id"] for c in prompt.citations(hits)] == ["l-joins", "l-nulls"]