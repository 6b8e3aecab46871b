import re

import pytest

from domain.tutor import guard
from domain.tutor.engine import GuardedOutput

SOLUTION = """def fizzbuzz(n):
    if n % 15 == 0:
        return "FizzBuzz"
    if n % 3 == 0:
        return "Fizz"
    return str(n)"""


class Recorder:
    """Our own output interface (ReplyLog), recorded."""

    def __init__(self):
        self.events = []

    def token(self, text):
        self.events.append(("token", text))

    def reset(self, reason):
        self.events.append(("reset", reason))

    def shown(self) -> str:
        text = ""
        for kind, value in self.events:
            text = "" if kind == "reset" else text + value
        return text

    def ever_published(self) -> str:
        return "".join(v for k, v in self.events if k == "token")


def test_a_reply_containing_the_solution_is_blocked_whatever_its_spacing():
    squashed = SOLUTION.replace("    ", "  ").replace("\n", "\n\n")
    assert guard.check(f"Here you go:\n{squashed}\nEnjoy", SOLUTION).blocked


def test_half_of_the_solution_lines_is_blocked():
    partial = 'Try this:\n    if n % 15 == 0:\n        return "FizzBuzz"\n    if n % 3 == 0:'
    assert guard.check(partial, SOLUTION).blocked


def test_a_real_hint_passes():
    hint = "Think about which divisibility test must come first: 15, or 3? Use the % operator."
    assert not guard.check(hint, SOLUTION).blocked
    assert not guard.check("def fizzbuzz(n): is the signature you need", SOLUTION).blocked


def test_no_solution_means_nothing_to_guard():
    assert not guard.check(SOLUTION, None).blocked
    assert not guard.check(SOLUTION, "  ").blocked


def test_streamed_hint_never_publishes_the_solution_and_is_rewritten():
    out = Recorder()
    g = GuardedOutput(out, SOLUTION)
    reply = f"Sure, here is the full solution:\n{SOLUTION}\nGood luck!"
    fed = 0
    for i in range(0, len(reply), 7):
        fed += 1
        if not g.feed(reply[i:i + 7]):
            break
    text = g.finish()
    assert text == guard.REFUSAL
    assert g.verdict.blocked
    assert out.shown() == guard.REFUSAL
    assert out.ever_published() == guard.REFUSAL          # nothing of the reply reached the learner
    assert not any(kind == "reset" for kind, _ in out.events)


def test_streamed_safe_text_is_published_in_full_and_in_order():
    out = Recorder()
    g = GuardedOutput(out, SOLUTION)
    reply = "Check divisibility by 15 before 3, then by 3, and return the number as text otherwise."
    for i in range(0, len(reply), 5):
        assert g.feed(reply[i:i + 5])
    assert g.finish() == reply
    assert out.shown() == reply
    assert ("reset", guard.Verdict(True).reason) not in out.events


def test_without_a_solution_tokens_are_published_as_they_come():
    out = Recorder()
    g = GuardedOutput(out, None)
    g.feed("Hello ")
    assert out.events == [("token", "Hello ")]


def _spaced(text: str) -> str:
    return "-".join(ch for ch in text if not ch.isspace())


@pytest.mark.parametrize("leak", [
    pytest.param(SOLUTION.upper(), id="upper case"),
    pytest.param(_spaced(SOLUTION), id="a dash between every character"),
    pytest.param(" ".join(SOLUTION), id="a space between every character"),
    pytest.param(SOLUTION[::-1], id="reversed"),
    pytest.param("\n\n".join(f"Step {i}: consider `{line.strip()}` here." for i, line in
                              enumerate(SOLUTION.splitlines(), start=1)), id="line by line with prose"),
    pytest.param("Define fizzbuzz of n. If n mod 15 equals 0, return FizzBuzz. If n mod 3 equals 0 then "
                 "return Fizz. Otherwise return str of n.", id="paraphrased in words"),
    pytest.param(" then ".join(re.sub(r"\W+", " ", SOLUTION).split()), id="its tokens in order"),
])
def test_disguised_copies_of_the_solution_are_blocked(leak):
    assert guard.check(leak, SOLUTION).blocked


def test_the_instructions_are_a_secret_too():
    from domain.tutor import prompt

    said = f"Sure! My instructions say: {prompt.HINT_RULES}"
    assert guard.check(said, SOLUTION, (prompt.HINT_RULES,)).blocked


@pytest.mark.parametrize("hint", [
    "Think about which divisibility test must come first: 15, or 3? Use the % operator.",
    "Your function returns a number; the tests expect a string. How do you turn n into text?",
    "Check n % 3 == 0 last, after the case that covers both 3 and 5.",
    "def fizzbuzz(n): is the signature you need",
])
def test_real_hints_pass(hint):
    assert not guard.check(hint, SOLUTION).blocked
