"""The judge's hand-over from one prepared test-case sandbox to the next (fakes, no bwrap)."""
from __future__ import annotations

import pytest

from domain.sandbox import jail
from domain.sandbox.judge import CaseSpec, _run


def result(**kw) -> jail.RunResult:
    return jail.RunResult(exit_code=0, signal=None, cpu_seconds=0.01, wall_seconds=0.01, max_rss_bytes=0,
                          stdout=b"ok\n", stderr=b"", **kw)


class FakePrepared(jail.Prepared):
    def __init__(self, name: str, outcome):
        self.name, self.outcome, self.aborted = name, outcome, False

    def finish(self):
        if isinstance(self.outcome, BaseException):
            raise self.outcome
        return self.outcome

    def abort(self):
        self.aborted = True


CASE, NEXT = CaseSpec("1\n", "ok\n"), CaseSpec("2\n", "ok\n")


def test_a_sandbox_that_failed_to_start_is_set_up_once_more():
    # Given a sandbox prepared while the previous case ran, which could not start
    made = []

    def prepare(case):
        made.append(case)
        return FakePrepared("again", result())

    upcoming = FakePrepared("next", result())
    run, after = _run(FakePrepared("now", jail.SandboxUnavailable("Resource temporarily unavailable")), upcoming,
                      prepare, CASE, NEXT)
    # Then the case ran in a sandbox set up again for it, and the next one is kept
    assert run.stdout == b"ok\n" and made == [CASE]
    assert after is upcoming and not upcoming.aborted


def test_a_sandbox_unavailable_twice_is_raised():
    with pytest.raises(jail.SandboxUnavailable):
        _run(FakePrepared("now", jail.SandboxUnavailable("no")), None,
             lambda case: FakePrepared("again", jail.SandboxUnavailable("still no")), CASE, None)


@pytest.mark.parametrize("killed", [{"timed_out": True}, {"output_exceeded": True}])
def test_after_a_killed_run_the_next_sandbox_is_set_up_again(killed):
    # Given a run the judge had to kill (every process of the slot uid is swept with it)
    upcoming = FakePrepared("next", result())
    made = []
    run, after = _run(FakePrepared("now", result(**killed)), upcoming,
                      lambda case: made.append(case) or FakePrepared("fresh", result()), CASE, NEXT)
    # Then the waiting sandbox is ended and a fresh one is prepared for the next case
    assert upcoming.aborted and after.name == "fresh" and made == [NEXT]


def test_a_program_that_cannot_start_is_returned_not_raised():
    run, after = _run(FakePrepared("now", jail.ProgramNotStarted("No such file or directory")), None,
                      lambda case: pytest.fail("no retry for a missing runtime"), CASE, None)
    assert isinstance(run, OSError) and after is None
