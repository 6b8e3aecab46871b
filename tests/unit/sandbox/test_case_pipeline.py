"""The judge's use of one sandbox session for a submission's cases (fakes, no bwrap)."""
from __future__ import annotations

import pytest

from domain.sandbox import jail
from domain.sandbox.judge import CaseSpec, _run

LIMITS = jail.Limits()


def result(**kw) -> jail.RunResult:
    return jail.RunResult(exit_code=0, signal=None, cpu_seconds=0.01, wall_seconds=0.01, max_rss_bytes=0,
                          stdout=b"ok\n", stderr=b"", **kw)


class FakeSession(jail.Session):
    def __init__(self, name: str, outcome):
        self.name, self.outcome, self.closed, self.alive = name, outcome, False, True
        self.stdins = []

    def run(self, stdin, limits):
        self.stdins.append(stdin)
        if isinstance(self.outcome, BaseException):
            raise self.outcome
        return self.outcome

    def close(self):
        self.closed = True


CASE = CaseSpec("1\n", "ok\n")


def test_an_unusable_session_is_replaced_once():
    # Given a session whose sandbox could not be set up
    broken = FakeSession("now", jail.SandboxUnavailable("Resource temporarily unavailable"))
    made = []

    def new_session():
        made.append(FakeSession("again", result()))
        return made[-1]

    run, after = _run(broken, new_session, CASE, LIMITS)
    # Then the case ran in a new session, which is kept for the next cases
    assert run.stdout == b"ok\n" and broken.closed
    assert after is made[0] and made[0].stdins == [b"1\n"] and not made[0].closed


def test_a_sandbox_unavailable_twice_is_raised():
    with pytest.raises(jail.SandboxUnavailable):
        _run(FakeSession("now", jail.SandboxUnavailable("no")),
             lambda: FakeSession("again", jail.SandboxUnavailable("still no")), CASE, LIMITS)


def test_a_session_that_could_not_start_is_an_error_not_a_crash():
    run, after = _run(OSError(11, "Resource temporarily unavailable"), lambda: pytest.fail("no retry"), CASE, LIMITS)
    assert isinstance(run, OSError) and after is None


def test_a_program_that_cannot_start_is_returned_not_raised():
    session = FakeSession("now", jail.ProgramNotStarted("No such file or directory"))
    run, after = _run(session, lambda: pytest.fail("no retry for a missing runtime"), CASE, LIMITS)
    assert isinstance(run, OSError) and after is session
