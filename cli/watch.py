"""``coursework jobs watch ID``: follow a job's server-sent events through intake with a live
progress bar, and exit with its outcome (0 succeeded, 1 failed or dead-lettered, 2 cancelled).
A dropped stream is resumed from the last event seen (``Last-Event-ID``)."""
from __future__ import annotations

import json
import os
import time

import httpx
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

from cli import render

EXIT = {"succeeded": 0, "failed": 1, "dead_lettered": 1, "cancelled": 2}
TERMINAL = set(EXIT)


def events(client: httpx.Client, job_id: str, last_id: int | None):
    """(id, type, data) of each event on the job's stream, from after ``last_id``."""
    headers = {"Accept": "text/event-stream"}
    if last_id:
        headers["Last-Event-ID"] = str(last_id)
    with client.stream("GET", f"/v1/jobs/{job_id}/events", headers=headers, timeout=httpx.Timeout(10, read=None)) as r:
        if r.status_code != 200:
            r.read()
            raise LookupError(f"{r.status_code}: {r.text[:300]}")
        ev: dict = {}
        for line in r.iter_lines():
            if not line:
                if "data" in ev:
                    yield int(ev.get("id") or 0), ev.get("event", "message"), json.loads(ev["data"])
                ev = {}
            elif not line.startswith(":") and ":" in line:
                field, _, value = line.partition(":")
                ev[field] = value.lstrip(" ")


def _ending(client: httpx.Client, job_id: str) -> dict:
    return client.get(f"/v1/jobs/{job_id}").json()["job"]


def watch(args) -> int:
    from celeryconfig import settings

    key = args.key or os.environ.get("COURSEWORK_API_KEY")
    if not key:
        return render.error("an API key is needed: --key KEY or COURSEWORK_API_KEY (scope read)")
    url = (args.url or settings.public_base_url).rstrip("/")
    client = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=10)
    last_id, state, failures = None, None, 0
    progress = Progress(TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(),
                        TimeElapsedColumn(), TextColumn("{task.fields[message]}"),
                        console=render.console(stderr=True), disable=args.json)
    with client, progress:
        bar = progress.add_task(f"job {args.id}", total=100, message="")
        while state not in TERMINAL:
            try:
                for last_id, type_, data in events(client, args.id, last_id):
                    payload = data.get("data") or {}
                    if args.json:
                        print(json.dumps(data, default=str), flush=True)
                    if type_ == "job.progress":
                        progress.update(bar, completed=payload.get("progress", 0), message=payload.get("message", ""))
                    elif type_.startswith("job."):
                        state = payload.get("state") or state
                        progress.update(bar, message=f"[{render.STATE_STYLE.get(state, 'white')}]{state}[/]")
                        if state == "succeeded":
                            progress.update(bar, completed=100)
                    if state in TERMINAL:
                        break
                else:
                    state = _ending(client, args.id)["state"]   # the stream ended: the job has
            except LookupError as exc:
                return render.error(f"cannot watch job {args.id}: {exc}")
            except httpx.HTTPError as exc:
                failures += 1
                if failures > 5:
                    return render.error(f"lost the stream from {url}: {exc}")
                time.sleep(min(5, failures))
        job = _ending(client, args.id) if not args.json else None
    if job is not None:
        err = job.get("error") or {}
        tail = f": {err.get('code')}: {err.get('message')}" if err and state != "succeeded" else ""
        render.console(stderr=True).print(f"job {args.id} {render.state(state)}{tail}", highlight=False)
    return EXIT.get(state, 1)
