"""Output comparison, verdict classification, scoring and feedback (no sandbox needed)."""
from __future__ import annotations

import signal

from domain.sandbox.jail import RunResult
from domain.sandbox.judge import CaseResult, CaseSpec, score
from domain.sandbox.feedback import feedback_for
from domain.sandbox.verdicts import classify, outputs_match


def test_exact_comparison_is_strict_except_line_endings():
    assert outputs_match("1 2\r\n", "1 2\n", "exact")
    assert not outputs_match("1 2 \n", "1 2\n", "exact")


def test_trimmed_comparison_ignores_trailing_spaces_and_blank_lines():
    assert outputs_match("a  \nb\n\n\n", "a\nb", "trimmed")
    assert not outputs_match("a\n b\n", "a\nb\n", "trimmed")


def test_numeric_comparison_uses_the_tolerance():
    assert outputs_match("3.14159 2\n", "3.1416 2", "numeric", tolerance=1e-3)
    assert not outputs_match("3.2 2", "3.1416 2", "numeric", tolerance=1e-3)
    assert not outputs_match("3.1416", "3.1416 2", "numeric")
    assert not outputs_match("nan", "nan", "numeric")
    assert outputs_match("yes 1e3", "yes 1000", "numeric")


def _run(**kw) -> RunResult:
    base = dict(exit_code=0, signal=None, cpu_seconds=0.1, wall_seconds=0.1, max_rss_bytes=10 << 20,
                stdout=b"", stderr=b"")
    base.update(kw)
    return RunResult(**base)


def test_classify_orders_the_verdicts_like_a_judge():
    limit = 64 << 20
    assert classify(_run(), memory_limit_bytes=limit) is None
    assert classify(_run(output_exceeded=True), memory_limit_bytes=limit).value == "OLE"
    assert classify(_run(max_rss_bytes=limit + 1), memory_limit_bytes=limit).value == "MLE"
    assert classify(_run(exit_code=1, stderr=b"MemoryError"), memory_limit_bytes=limit,
                    oom_markers=(b"MemoryError",)).value == "MLE"
    assert classify(_run(exit_code=None, signal=9, cpu_exceeded=True), memory_limit_bytes=limit).value == "TLE"
    assert classify(_run(exit_code=None, signal=9, timed_out=True), memory_limit_bytes=limit).value == "TLE"
    assert classify(_run(exit_code=None, signal=signal.SIGXFSZ), memory_limit_bytes=limit).value == "OLE"
    assert classify(_run(exit_code=None, signal=11), memory_limit_bytes=limit).value == "RE"
    assert classify(_run(exit_code=3), memory_limit_bytes=limit).value == "RE"


def test_one_event_one_verdict_whatever_the_runtime_made_of_it():
    limit = 64 << 20
    # a file at the size limit: SIGXFSZ (C) or an exception and exit 1 (Python): both OLE
    assert classify(_run(exit_code=1, file_limit=True), memory_limit_bytes=limit).value == "OLE"
    # a program that caught the error and went on is judged on its output
    assert classify(_run(exit_code=0, file_limit=True), memory_limit_bytes=limit) is None
    # the kernel's OOM kill in the case's cgroup (SIGKILL) or the tree over the limit: MLE
    assert classify(_run(exit_code=None, signal=9, memory_exceeded=True), memory_limit_bytes=limit).value == "MLE"
    # the CPU backstop (SIGXCPU) only fires above the limit: TLE
    assert classify(_run(exit_code=None, signal=signal.SIGXCPU), memory_limit_bytes=limit).value == "TLE"


def test_a_hidden_case_is_stored_with_its_verdict_only():
    case = CaseResult(case=2, verdict="RE", time_ms=420, memory_kb=4242, hidden=True, weight=1, detail="exit code 42")
    assert case.public() == {"case": 2, "verdict": "RE", "time_ms": None, "memory_kb": None, "hidden": True,
                             "weight": 1, "detail": ""}
    shown = CaseResult(case=1, verdict="RE", time_ms=420, memory_kb=4242, hidden=False, weight=1, detail="exit code 3")
    assert shown.public()["time_ms"] == 420 and shown.public()["detail"] == "exit code 3"


def _case(n, verdict, hidden=False, weight=1, output=""):
    return CaseResult(case=n, verdict=verdict, time_ms=1, memory_kb=1, hidden=hidden, weight=weight, output=output)


def test_score_is_the_weighted_share_of_accepted_cases():
    assert score([_case(1, "AC", weight=1), _case(2, "WA", weight=3)]) == 25
    assert score([_case(1, "AC"), _case(2, "AC")]) == 100
    assert score([]) == 0


def test_feedback_shows_the_first_failing_visible_case_and_never_hidden_data():
    specs = [CaseSpec("1 1\n", "2\n"), CaseSpec("SECRET-IN\n", "SECRET-OUT\n", hidden=True),
             CaseSpec("2 2\n", "4\n")]
    results = [_case(1, "AC"), _case(2, "WA", hidden=True), _case(3, "WA", output="5\n")]
    text = feedback_for(results, specs)
    assert "1/3 tests passed" in text
    assert "Test 3: Wrong Answer" in text and "-4" in text and "+5" in text
    assert "Hidden tests failed: 2 (Wrong Answer)" in text
    assert "SECRET" not in text
