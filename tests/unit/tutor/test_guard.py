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
    assert guard._norm(SOLUTION) not in guard._norm(out.ever_published())


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
