"""The lease a run holds on its job: claim it, keep it, report progress under it, succeed with it.

A run holds a job's lease while the job is ``running`` with the run's owner string in
``lease_owner``; ``held`` is that condition, the one way every transition made on a run's
behalf checks it. These are the generic (Session) forms; workers on PostgreSQL claim and
succeed through ``domain.jobs.runs``, the same updates as prepared statements.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import NamedTuple

from sqlalchemy import ColumnElement, and_, or_, select, update
from sqlalchemy.orm import Session

from domain.db import utcnow
from domain.jobs import states
from domain.jobs.models import Job
from domain.jobs.recording import record_event, transition_data


class Claimed(NamedTuple):
    """What a run needs from the job it just claimed."""
    id: str
    kind: str
    attempts: int
    max_attempts: int
    caller: str
    payload: dict
    created_at: datetime | None = None     # with run_at: when it became due (wait-time metric)
    run_at: datetime | None = None


def held(job_id: str, owner: str) -> ColumnElement[bool]:
    """The job is running under the lease ``owner`` took."""
    return and_(Job.id == job_id, Job.state == states.RUNNING, Job.lease_owner == owner)


def owned(session: Session, job_id: str, owner: str) -> Job | None:
    """The job, locked, if ``owner`` still holds its lease; None otherwise."""
    return session.scalars(select(Job).where(held(job_id, owner)).with_for_update()).first()


def claim(session: Session, job_id: str, owner: str, lease_seconds: int) -> Claimed | None:
    """Take the job's lease for this run; None when it cannot be taken (``transitions.not_claimed``
    says why). One atomic ``UPDATE … RETURNING`` decides: claimable states, or a running job whose
    lease has expired (its worker died) and that has deliveries left."""
    now = utcnow()
    claimed = session.scalars(
        update(Job)
        .where(Job.id == job_id, Job.cancel_requested.is_(False))
        .where(or_(Job.state.in_(states.CLAIMABLE),
                   and_(Job.state == states.RUNNING, Job.lease_expires_at < now,
                        Job.attempts < Job.max_attempts)))
        .values(state=states.RUNNING, lease_owner=owner, lease_expires_at=now + timedelta(seconds=lease_seconds),
                attempts=Job.attempts + 1, started_at=now, updated_at=now)
        .returning(Job)
        .execution_options(populate_existing=True)
    ).first()
    if claimed is None:
        return None
    record_event(session, claimed.id, f"job.{states.RUNNING}", transition_data(states.RUNNING, claimed.attempts))
    return Claimed(claimed.id, claimed.kind, claimed.attempts, claimed.max_attempts, claimed.caller,
                   claimed.payload, claimed.created_at, claimed.run_at)


def renew_leases(session: Session, runs: list[tuple[str, str]], lease_seconds: int) -> tuple[set, set]:
    """Heartbeat for the runs of one process, given as (job id, owner) pairs: extends the leases
    still theirs. Returns (the pairs still theirs, the job ids whose cancellation was asked)."""
    if not runs:
        return set(), set()
    ours = session.execute(
        update(Job).where(or_(*(held(job_id, owner) for job_id, owner in runs)))
        .values(lease_expires_at=utcnow() + timedelta(seconds=lease_seconds))
        .returning(Job.id, Job.lease_owner)
        .execution_options(synchronize_session=False)
    ).all()
    cancel = session.scalars(select(Job.id).where(Job.id.in_([job_id for job_id, _ in runs]),
                                                  Job.cancel_requested.is_(True)))
    return {tuple(row) for row in ours}, set(cancel)


def set_progress(session: Session, job_id: str, owner: str, percent: float, message: str = "") -> None:
    pct = max(0, min(100, int(percent)))
    res = session.execute(
        update(Job).where(held(job_id, owner))
        .values(progress=pct, progress_message=message[:500], updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if res.rowcount:
        record_event(session, job_id, "job.progress", {"progress": pct, "message": message[:500]})


def succeed(session: Session, job_id: str, owner: str, result: dict | None) -> bool:
    """Record success only if this run still holds the lease (one conditional UPDATE)."""
    now = utcnow()
    attempts = session.scalar(
        update(Job).where(held(job_id, owner))
        .values(state=states.SUCCEEDED, result=result or {}, progress=100, error=None, finished_at=now,
                updated_at=now, lease_owner=None, lease_expires_at=None)
        .returning(Job.attempts)
        .execution_options(synchronize_session=False)
    )
    if attempts is None:
        return False
    record_event(session, job_id, f"job.{states.SUCCEEDED}",
                 transition_data(states.SUCCEEDED, attempts, result=result or {}))
    return True
