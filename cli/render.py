"""How the CLI prints: rich tables with headers for people, ``--json`` for scripts."""
from __future__ import annotations

import json
import sys
from datetime import datetime, timezone
from typing import Any, Iterable

from rich.console import Console
from rich.table import Table

STATE_STYLE = {"queued": "cyan", "running": "blue", "retrying": "yellow", "succeeded": "green",
               "failed": "red", "dead_lettered": "bold red", "cancelled": "magenta"}


def console(stderr: bool = False) -> Console:
    stream = sys.stderr if stderr else sys.stdout
    # piped output keeps whole lines (no wrapping at 80 columns) and no colour codes
    return Console(file=stream, width=None if stream.isatty() else 220, soft_wrap=not stream.isatty())


def error(message: str) -> int:
    console(stderr=True).print(f"[bold red]error:[/] {message}", highlight=False)
    return 2


def as_json(data: Any) -> None:
    print(json.dumps(data, indent=2, default=str))


def _parse(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    return datetime.fromisoformat(str(value))


def relative(value: Any, now: datetime | None = None) -> str:
    """``"3 min ago"`` / ``"in 20 s"``."""
    at = _parse(value)
    if at is None:
        return "-"
    seconds = ((now or datetime.now(timezone.utc)) - at).total_seconds()
    future, seconds = seconds < 0, abs(seconds)
    for limit, unit, size in ((60, "s", 1), (3600, "min", 60), (86400, "h", 3600), (float("inf"), "d", 86400)):
        if seconds < limit:
            text = f"{int(seconds // size)} {unit}"
            break
    return f"in {text}" if future else f"{text} ago"


def when(value: Any) -> str:
    """Relative and absolute: ``"3 min ago (2026-01-05 10:00:00Z)"``."""
    at = _parse(value)
    if at is None:
        return "-"
    return f"{relative(at)} ({at.astimezone(timezone.utc):%Y-%m-%d %H:%M:%S}Z)"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def state(value: str) -> str:
    return f"[{STATE_STYLE.get(value, 'white')}]{value}[/]"


def jobs_table(jobs: Iterable[dict], title: str | None = None) -> Table:
    t = Table(title=title, header_style="bold", expand=False)
    t.add_column("ID", no_wrap=True)
    t.add_column("KIND", no_wrap=True)
    t.add_column("STATE", no_wrap=True)
    t.add_column("TRIES", justify="right", no_wrap=True)
    t.add_column("PROGRESS", justify="right", no_wrap=True)
    t.add_column("CALLER", no_wrap=True)
    t.add_column("CREATED", no_wrap=True)
    t.add_column("FINISHED", no_wrap=True)
    t.add_column("ERROR", overflow="ellipsis", max_width=60)
    for j in jobs:
        err = j.get("error") or {}
        t.add_row(j["id"], j["kind"], state(j["state"]), f"{j['attempts']}/{j['max_attempts']}",
                  f"{j['progress']}%", j.get("caller") or "-", when(j.get("created_at")),
                  relative(j.get("finished_at")), f"{err.get('code', '')}: {err.get('message', '')}" if err else "")
    return t


def job_detail(job: dict) -> Table:
    t = Table(show_header=False, box=None, pad_edge=False)
    t.add_column("field", style="bold", no_wrap=True)
    t.add_column("value")
    for key in ("id", "kind", "queue", "state", "attempts", "max_attempts", "progress", "progress_message",
                "caller", "idempotency_key", "parent_id"):
        value = job.get(key)
        t.add_row(key, state(value) if key == "state" else ("-" if value in (None, "") else str(value)))
    for key in ("created_at", "run_at", "started_at", "finished_at", "updated_at"):
        t.add_row(key, when(job.get(key)))
    t.add_row("payload", json.dumps(job.get("payload"), default=str))
    if job.get("result") is not None:
        t.add_row("result", json.dumps(job["result"], default=str)[:2000])
    if job.get("error"):
        err = job["error"]
        t.add_row("error", f"[red]{err.get('code')}[/]: {err.get('message')}")
    return t


def queues_table(rows: list[dict]) -> Table:
    t = Table(header_style="bold")
    for name, justify in (("QUEUE", "left"), ("STATUS", "left"), ("BROKER", "right"), ("QUEUED", "right"),
                          ("RETRYING", "right"), ("RUNNING", "right"), ("OLDEST WAITING", "right"),
                          ("OK/MIN 5m", "right"), ("FAIL/MIN 5m", "right"), ("OK/MIN 60m", "right"),
                          ("FAIL/MIN 60m", "right"), ("DEAD LETTERS", "right")):
        t.add_column(name, justify=justify, no_wrap=True)
    for q in rows:
        dead = q["dead_letters"]
        t.add_row(q["queue"], "[yellow]paused[/]" if q["paused"] else "[green]active[/]",
                  "?" if q["broker_depth"] is None else str(q["broker_depth"]), str(q["queued"]), str(q["retrying"]),
                  str(q["running"]), duration(q["oldest_waiting_seconds"]),
                  f"{q['succeeded_per_min_5m']:g}", f"{q['failed_per_min_5m']:g}",
                  f"{q['succeeded_per_min_60m']:g}", f"{q['failed_per_min_60m']:g}",
                  f"[red]{dead}[/]" if dead else "0")
    return t
