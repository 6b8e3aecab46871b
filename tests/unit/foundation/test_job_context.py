"""One way to hand a family its dependencies (the job context) and one way to observe
cancellation (``RunControl.check_cancelled``), checked over the source so a new family keeps it."""
from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

from domain.jobs.control import UNWATCHED, RunControl
from domain.jobs.errors import JobCancelled
from workers.context import JobContext

ROOT = Path(__file__).resolve().parents[3]


def _functions(folder: str):
    files = sorted((ROOT / folder).rglob("*.py"))
    assert files, f"no Python files under {folder}/"
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                yield path.relative_to(ROOT), node


def test_domain_code_takes_a_run_control_not_cancel_callbacks():
    params = {"cancelled", "check_cancelled", "is_cancelled"}
    found = [f"{path}:{fn.lineno} {fn.name}({arg.arg})" for path, fn in _functions("domain")
             for arg in fn.args.args + fn.args.kwonlyargs if arg.arg in params]
    assert found == [], "take `control: RunControl` and call control.check_cancelled() instead"


def test_job_tasks_hand_domain_code_no_database_url():
    found = []
    for path, fn in _functions("tasks"):
        decorated = any(isinstance(d, ast.Call) and getattr(d.func, "id", None) == "job_task" for d in fn.decorator_list)
        if decorated:
            found += [f"{path}:{n.lineno} {fn.name}: .{n.attr}" for n in ast.walk(fn)
                      if isinstance(n, ast.Attribute) and n.attr in ("db_url", "database_url")]
    assert found == [], "pass ctx.uow / ctx.db_engine, never a URL"


def test_the_job_context_is_a_run_control_that_raises_once_cancelled_or_lost():
    for name in ("progress", "check_cancelled"):
        assert list(inspect.signature(getattr(JobContext, name)).parameters)[1:3] == \
            list(inspect.signature(getattr(RunControl, name)).parameters)[1:3]
    ctx = JobContext(job_id="j", kind="ping", owner="o", attempt=1, max_attempts=1, caller="c", db_url="sqlite://")
    ctx.check_cancelled()                    # not cancelled: nothing happens
    ctx.lost_event.set()
    with pytest.raises(JobCancelled):
        ctx.check_cancelled()
    UNWATCHED.check_cancelled()
    UNWATCHED.progress(50, "ignored")
