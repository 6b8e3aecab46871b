"""domain.jobs.ops on SQLite (the embedded demo's database): filters, including the error code
inside the JSON error, bulk retry with a dry run, queue health and the export's order."""
from __future__ import annotations

from datetime import timedelta

import pytest

from cli.services import migrate
from domain.db import unit_of_work, utcnow
from domain.jobs import enqueueing, ops, transitions
from domain.jobs.errors import PermanentError, TransientError


@pytest.fixture
def url(tmp_path):
    url = f"sqlite:///{tmp_path / 'ops.db'}"
    migrate(url)
    return url


def _ended(url: str, how: str) -> str:
    with unit_of_work(url) as s:
        job, _ = enqueueing.enqueue(s, "ping", {}, caller="c1")
        job.state, job.attempts, job.lease_owner = "running", 1, "me"
        s.flush()
        if how == "failed":
            transitions.fail(s, job.id, "me", PermanentError("bad", code="ping_failed"))
        else:
            transitions.dead_letter(s, job.id, "me", TransientError("away"))
        return job.id


def test_filters_bulk_retry_health_and_export(url):
    failed, dead = _ended(url, "failed"), _ended(url, "dead_lettered")
    with unit_of_work(url) as s:
        waiting, _ = enqueueing.enqueue(s, "ping", {}, caller="c2")
    f = ops.JobFilter(error_code="ping_failed")
    assert ops.bulk(url, f, "retry")["matched"] == 1
    assert ops.bulk(url, ops.JobFilter(caller="c1"), "retry")["matched"] == 2
    assert ops.bulk(url, ops.JobFilter(since=utcnow() + timedelta(hours=1)), "retry")["matched"] == 0
    with pytest.raises(ops.FilterError) as bad:
        ops.bulk(url, ops.JobFilter(state="queued"), "retry")
    assert bad.value.field == "state"
    with pytest.raises(ops.FilterError):
        ops.JobFilter(kind="nope").checked()
    done = ops.bulk(url, ops.JobFilter(state="dead_lettered"), "retry", dry_run=False)
    assert done["changed"] == 1
    from domain.db import session_factory

    with session_factory(url)() as s:
        health = ops.queue_health(s, ["maintenance", "video"])
    assert health["maintenance"]["queued"] == 2 and health["maintenance"]["dead_letters"] == 0
    assert health["maintenance"]["failed_per_min_5m"] == 0.2 and health["video"]["queued"] == 0
    assert health["maintenance"]["oldest_waiting_seconds"] >= 0
    rows = list(ops.export_rows(url, ops.JobFilter()))
    assert [r["id"] for r in rows] == [failed, dead, waiting.id]
    assert rows[0]["error_code"] == "ping_failed" and rows[1]["state"] == "queued"
