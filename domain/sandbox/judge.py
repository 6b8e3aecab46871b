"""Judge one submission: compile (when the language needs it), run every test case in the
sandbox, give each a verdict, score the weighted share of accepted cases, write feedback.

Pure of Celery and the database: callers pass the code, the cases and a ``JudgeConfig``.
"""
from __future__ import annotations

import functools
import os
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

from domain.jobs.control import UNWATCHED, RunControl
from domain.sandbox import cgroups, jail, languages, slots, sweep
from domain.sandbox.feedback import feedback_for, trim
from domain.sandbox.helpers import Helpers, build_helpers
from domain.sandbox.verdicts import Comparison, Verdict, classify, describe_exit, outputs_match

MB = 1024 * 1024


@dataclass(frozen=True)
class CaseSpec:
    stdin: str
    expected: str
    comparison: str = Comparison.trimmed.value
    tolerance: float = 1e-6
    hidden: bool = False
    weight: int = 1


@dataclass(frozen=True)
class JudgeConfig:
    """Host-side settings (celeryconfig ``sandbox_*``); per-exercise limits come with the call."""

    work_dir: Path = Path(tempfile.gettempdir()) / "coursework-sandbox"
    base_uid: int = 61000
    slots: int = 0                    # concurrent runs per host; 0: the cores this worker may use
    slot_wait_seconds: float = 300.0  # how long a run waits for a free slot (then NoFreeSlot: retried)
    max_processes: int = 64
    max_output_bytes: int = 1_000_000
    max_file_bytes: int = 16_000_000
    tmp_inodes: int = 4096            # files and folders in a case's /tmp (and /dev/shm)
    open_files: int = 64
    compile_seconds: float = 10.0
    compile_memory_mb: int = 1024
    wall_factor: float = 2.0          # wall clock = cpu limit * factor + 1 s
    cgroups: bool = True              # use cgroups where the host allows (False: runner's own accounting)
    bwrap: str = "bwrap"

    @property
    def slot_count(self) -> int:
        return self.slots or slots.usable_cores()


@dataclass
class CaseResult:
    case: int                 # 1-based position
    verdict: str
    time_ms: int
    memory_kb: int
    hidden: bool
    weight: int
    detail: str = ""          # exit code / signal; never the case's data
    output: str = field(default="", repr=False)   # the program's stdout, trimmed (not stored for hidden cases)

    def public(self) -> dict:
        """What is stored and shown: a hidden case shows its verdict and nothing more (its input
        could be read back through an exit code, a signal, a time or a memory figure)."""
        data = asdict(self)
        data.pop("output")
        if self.hidden:
            data.update(time_ms=None, memory_kb=None, detail="")
        return data


@dataclass
class Evaluation:
    verdict: str              # the first non-accepted verdict, or AC
    score: int                # 0-100
    cases: list[CaseResult]
    compile_output: str = ""
    feedback: str = ""

    def public(self) -> dict:
        return {"verdict": self.verdict, "score": self.score, "cases": [c.public() for c in self.cases],
                "compile_output": self.compile_output, "feedback": self.feedback}


def _all(cases: list[CaseSpec], verdict: Verdict, message: str) -> Evaluation:
    results = [CaseResult(case=i, verdict=verdict.value, time_ms=0, memory_kb=0, hidden=c.hidden, weight=c.weight)
               for i, c in enumerate(cases, 1)]
    return Evaluation(verdict=verdict.value, score=0, cases=results, compile_output=message,
                      feedback=f"{verdict.title}:\n{message}")


def score(cases: list[CaseResult]) -> int:
    total = sum(c.weight for c in cases)
    if not total:
        return 0
    won = sum(c.weight for c in cases if c.verdict == Verdict.accepted.value)
    return round(100 * won / total)


def _workspace(config: JudgeConfig, slot: slots.Slot) -> Path:
    config.work_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(config.work_dir, 0o711)
    box = Path(tempfile.mkdtemp(prefix=sweep.box_name(slot.number), dir=config.work_dir))
    slots.mark(slot, box.name)   # a sweep leaves the box its slot's holder is using alone
    if slot.uid is not None:
        os.chown(box, slot.uid, slot.uid)
    os.chmod(box, 0o700)
    return box


def longest_run_seconds(config: JudgeConfig, max_time_ms: int, cases: int = 100) -> float:
    """An upper bound on how long one submission holds its box (compile + every case's wall clock)."""
    return config.compile_seconds * 2 + cases * (max_time_ms / 1000 * config.wall_factor + 1)


_SWEPT: dict[Path, float] = {}


def sweep_now(config: JudgeConfig, older_than: float, every: float = 600.0) -> list[str]:
    """Sweep boxes left behind, at a worker's first use and then every ``every`` seconds."""
    now = time.monotonic()
    last = _SWEPT.get(config.work_dir)
    if last is not None and now - last < every:
        return []
    _SWEPT[config.work_dir] = now
    return sweep.sweep_boxes(config.work_dir, older_than)


def _compile(lang: languages.Language, box: Path, config: JudgeConfig, slot: slots.Slot,
             helper: Helpers, group: cgroups.SlotGroup | None) -> jail.RunResult:
    limits = jail.Limits(cpu_seconds=config.compile_seconds, wall_seconds=config.compile_seconds * 2,
                         memory_bytes=config.compile_memory_mb * MB, processes=config.max_processes,
                         file_bytes=max(config.max_file_bytes, 64 * MB), open_files=256,
                         output_bytes=256 * 1024)
    return jail.run(box, lang.compile, limits, slot, helper, writable_box=True, bwrap=config.bwrap, group=group)


def _group(config: JudgeConfig, slot: slots.Slot) -> cgroups.SlotGroup | None:
    if slot.uid is None:
        return None
    try:
        return cgroups.tree(config.cgroups).slot(slot.uid)
    except OSError as exc:
        raise jail.SandboxUnavailable(f"the slot's cgroup could not be made: {exc}") from None


def evaluate(language: str, code: str, cases: list[CaseSpec], *, time_limit_ms: int, memory_limit_mb: int,
             config: JudgeConfig = JudgeConfig(), control: RunControl = UNWATCHED) -> Evaluation:
    """Compile and run every case in one slot; ``control.check_cancelled()`` before each case
    (a cancel raises ``JobCancelled`` after the running session is closed and the box removed)."""
    lang = languages.get(language)
    helper = build_helpers(config.work_dir)
    with slots.claim(config.work_dir / "slots", config.base_uid, config.slot_count,
                     wait_seconds=config.slot_wait_seconds) as slot:
        group = _group(config, slot)
        box = _workspace(config, slot)
        try:
            (box / lang.source).write_text(code)
            os.chmod(box / lang.source, 0o644)
            if lang.compile:
                try:
                    built = _compile(lang, box, config, slot, helper, group)
                except jail.ProgramNotStarted as exc:   # no compiler on this worker
                    return _all(cases, Verdict.internal_error, f"the compiler could not start: {exc}")
                if not built.ok:
                    message = trim(built.stderr.decode(errors="replace") or built.stdout.decode(errors="replace")
                                   or describe_exit(built), 2000)
                    if built.timed_out or built.cpu_exceeded:
                        message = "the compiler ran out of time\n" + message
                    return _all(cases, Verdict.compilation_error, message)
            results = []
            limits = _case_limits(lang, time_limit_ms, memory_limit_mb, config)
            new_session = functools.partial(_session, box, lang.run(memory_limit_mb), slot, helper, config, limits,
                                            group)
            session: jail.Session | None = None
            try:
                for i, case in enumerate(cases, 1):
                    control.check_cancelled()
                    run, session = _run(session, new_session, case, limits)
                    results.append(_case_result(lang, i, case, run, memory_limit_mb))
                    control.progress(100 * i / len(cases), f"test {i}/{len(cases)}: {results[-1].verdict}")
            finally:
                if isinstance(session, jail.Session):
                    session.close()
        finally:
            shutil.rmtree(box, ignore_errors=True)
    first_bad = next((r for r in results if r.verdict != Verdict.accepted.value), None)
    return Evaluation(verdict=first_bad.verdict if first_bad else Verdict.accepted.value, score=score(results),
                      cases=results, feedback=feedback_for(results, cases))


def _case_limits(lang: languages.Language, time_limit_ms: int, memory_limit_mb: int,
                 config: JudgeConfig) -> jail.Limits:
    memory = memory_limit_mb * MB
    cpu = time_limit_ms / 1000
    return jail.Limits(cpu_seconds=cpu, wall_seconds=cpu * config.wall_factor + 1, memory_bytes=memory,
                       address_space_bytes=memory + lang.address_space_headroom,
                       processes=config.max_processes, file_bytes=config.max_file_bytes,
                       tmp_inodes=config.tmp_inodes, open_files=config.open_files,
                       output_bytes=config.max_output_bytes)


def _session(box: Path, argv: list[str], slot: slots.Slot, helper: Helpers, config: JudgeConfig,
             limits: jail.Limits, group: cgroups.SlotGroup | None) -> jail.Session | OSError:
    try:
        return jail.Session(box, argv, slot, helper, bwrap=config.bwrap, processes=limits.processes, group=group)
    except OSError as exc:   # could not even start it: not the learner's fault (IE below)
        return exc


def _run(session: jail.Session | OSError | None, new_session: Callable[[], jail.Session | OSError],
         case: CaseSpec, limits: jail.Limits):
    """Run one case -> (RunResult | OSError, the session to use next).

    One bwrap for all the cases; each case still gets namespaces of its own (runner.c). With no
    session yet, or after a case we had to kill ended it, the case starts another. A session that
    turns out unusable (bwrap could not set it up, or the case's namespaces could not be made,
    e.g. a previous case's processes still counted against the slot) is replaced once before the
    sandbox is declared unavailable."""
    if isinstance(session, jail.Session) and not session.alive:
        session.close()   # killed: release its control socket and stderr pipe
        session = None
    if session is None:
        session = new_session()
    if isinstance(session, OSError):
        return session, None
    try:
        try:
            run = session.run(case.stdin.encode(), limits)
        except jail.SandboxUnavailable:
            session.close()
            session = new_session()
            if isinstance(session, OSError):
                return session, None
            try:
                run = session.run(case.stdin.encode(), limits)
            except jail.SandboxUnavailable:
                session.close()   # the caller still holds the first one
                raise
    except OSError as exc:   # ProgramNotStarted: the runtime is missing on this worker (IE)
        return exc, session
    return run, session


def _case_result(lang: languages.Language, number: int, case: CaseSpec, run: jail.RunResult | OSError,
                 memory_limit_mb: int) -> CaseResult:
    if isinstance(run, OSError):
        return CaseResult(case=number, verdict=Verdict.internal_error.value, time_ms=0, memory_kb=0,
                          hidden=case.hidden, weight=case.weight,
                          detail=f"the sandbox could not start the program: {run.strerror or run}")
    memory = memory_limit_mb * MB
    verdict = classify(run, memory_limit_bytes=memory, oom_markers=lang.oom_markers)
    output = run.stdout.decode(errors="replace")
    if verdict is None:
        ok = outputs_match(output, case.expected, case.comparison, case.tolerance)
        verdict = Verdict.accepted if ok else Verdict.wrong_answer
    detail = ""
    if verdict is Verdict.runtime_error and not case.hidden:
        detail = describe_exit(run) + "\n" + trim(run.stderr.decode(errors="replace"), 600)
    # a run stopped by the wall clock shows its own wall time (up to the stop, not the teardown)
    seconds = max(run.wall_seconds, run.cpu_seconds) if run.timed_out else run.cpu_seconds
    return CaseResult(case=number, verdict=verdict.value, time_ms=round(seconds * 1000),
                      memory_kb=run.max_rss_bytes // 1024, hidden=case.hidden, weight=case.weight,
                      detail=detail.strip(), output="" if case.hidden else trim(output, 2000))
