"""Exactly once per recipient with a worker killed (SIGKILL) in the middle of a 5,000-learner
announcement, on an isolated stack of its own (database, Redis, SMTP server, intake, two
workers: one is killed mid-send, the other takes over what the reaper requeues).

What is checked is the guarantee as it stands (docs/families/notifications.md): no learner is
ever missed; one delivery row (one Message-ID) per learner; a second copy is possible only for
a row that a killed process had claimed (``sending``) when the kill hit and that was re-claimed
afterwards, at most one such row per killed process, and the copy carries the same Message-ID."""
from __future__ import annotations

import collections
import os
import secrets
import signal
import time

import pytest

from sqlalchemy import func, select

from domain.db import unit_of_work
from domain.jobs.models import Job, JobEvent
from domain.core.models import User
from domain.notifications.models import Delivery
from tests.integration.notifications.people import make_course
from tests.integration.notifications.servers import SmtpServer
from tests.support.jobs import enqueue
from cli.services import Child, coursework_argv, wait_worker_ready
from tests.support.stack import LOG_DIR, Database, Stack, private_redis, wait_for


@pytest.mark.parametrize("learners,kill_at,chunk", [
    (300, 100, 40),                                                   # default run: same drill, small
    pytest.param(5000, 1500, 250, marks=pytest.mark.slow),            # 5,000 learners (≈1–2 min on 2 cores)
])
def test_sigkill_mid_fanout_neither_loses_nor_duplicates(s3_server, learners, kill_at, chunk):
    t0 = time.monotonic()
    mark = lambda what: print(f"\n{time.monotonic() - t0:6.1f}s {what} (emails: {smtp.count})")  # noqa: E731
    db, redis, smtp = Database().create(), private_redis(), SmtpServer().start()
    stack = Stack(db, redis.url, s3_server.endpoint, extra_env={
        "COURSEWORK_SMTP_PORT": str(smtp.port), "COURSEWORK_EMAIL_PROVIDER": "smtp",
        "COURSEWORK_NOTIFY_CHUNK_SIZE": str(chunk), "COURSEWORK_EMAIL_RATE_PER_SECOND": "100000",
        "COURSEWORK_VISIBILITY_TIMEOUT": "20"})
    try:
        # Given a course of learners, intake and two workers on the notifications queue
        course_id, users = make_course(db.url, learners)
        mark("course created")
        stack.start_intake()
        # two workers start side by side (each prefork, 2 processes); one will be killed
        doomed, rescuer = (_worker(stack, f"{name}-{secrets.token_hex(3)}") for name in ("doomed", "rescuer"))
        for child in (doomed, rescuer):
            wait_worker_ready(child)
        with stack.client(stack.create_key()) as api:
            mark("workers ready")
            # When the announcement is partly sent, one worker is killed with SIGKILL
            job = enqueue(api, "announce", {"course_id": course_id, "title": "Exam moved", "body": "Friday."})
            wait_for(lambda: smtp.count >= kill_at, timeout=120, interval=0.02, message=f"{kill_at} emails")
            doomed_pids = _group_pids(doomed.pid)
            doomed.signal_group(signal.SIGKILL)
            at_kill = smtp.count
            # (what the killed processes held: their claims stay ``sending`` until they go stale)
            in_flight = _claimed_by(db.url, doomed_pids)
            mark(f"killed; {len(in_flight)} rows were claimed by the killed processes")
            # and the other finishes its work (the reaper requeues the dead worker's jobs)
            wait_for(lambda: smtp.count >= learners and len(smtp.per_recipient()) >= learners, timeout=240,
                     interval=0.5, message="every learner's email")
            mark("all emails in")
            wait_for(lambda: _all_done(db.url, job["id"]), timeout=60, interval=0.5, message="all jobs finished")
        # (and nothing can send any more: the killed worker is gone and the other one is stopped)
        rescuer.stop()
        assert not rescuer.alive()
        # Then every learner got an email (none is ever lost) ...
        assert at_kill < learners, "the worker was killed after the fan-out had finished"
        got = smtp.per_recipient()
        assert set(got) == {u["email"] for u in users}
        with unit_of_work(db.url) as s:
            rows = {email: (did, attempts) for did, email, attempts in s.execute(
                select(Delivery.id, User.email, Delivery.attempts).join(User, User.id == Delivery.user_id)
                .where(Delivery.channel == "email"))}
        # ... every copy a learner got carries the Message-ID of that learner's one delivery row ...
        for m in smtp.messages:
            assert m["message_id"].startswith(f"<{rows[m['to']][0]}@"), m
        # ... and a learner got a second copy only if a killed process held that row when the kill
        # hit (it was re-claimed after its claim went stale): at most one such row per process
        twice = {to for to, n in got.items() if n > 1}
        assert all(got[to] == 2 for to in twice), got.most_common(3)
        for to in twice:
            delivery_id, attempts = rows[to]
            assert delivery_id in in_flight, f"{to} got two copies but its row was not in flight at the kill"
            assert attempts >= 2
        per_process = collections.Counter(in_flight[rows[to][0]] for to in twice)
        assert all(n == 1 for n in per_process.values()), per_process
        print(f"\nkilled at {at_kill} emails; {len(in_flight)} rows in flight; duplicates: {len(twice)}")
        with unit_of_work(db.url) as s:
            email = dict(s.execute(select(Delivery.status, func.count()).where(Delivery.channel == "email")
                                   .group_by(Delivery.status)).all())
            in_app = s.scalar(select(func.count()).select_from(Delivery).where(Delivery.channel == "in_app"))
            created = s.scalar(select(func.count()).select_from(JobEvent)
                               .where(JobEvent.type == "notification.created"))
            retried = s.scalar(select(func.count()).select_from(Job)
                               .where(Job.parent_id == job["id"], Job.attempts > 1))
        assert email == {"sent": learners} and in_app == learners and created == learners
        assert retried >= 1, "no job of the killed worker was taken over: the drill did not interrupt anything"
    finally:
        stack.stop()
        smtp.stop()
        redis.stop()
        db.drop()


def _group_pids(pgid: int) -> set[int]:
    """The processes of a worker (its process group): the main process and its pool."""
    pids = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == pgid:
                pids.add(int(entry))
    assert pids, f"no process in group {pgid}"
    return pids


def _claimed_by(url: str, pids: set[int]) -> dict[str, int]:
    """Email rows still ``sending`` under a claim of one of these processes → that process id
    (a sender's claim names it: ``host:pid:task:run``)."""
    with unit_of_work(url) as s:
        rows = s.execute(select(Delivery.id, Delivery.claimed_by).where(Delivery.channel == "email",
                                                                        Delivery.status == "sending")).all()
    return {did: int(owner.rsplit(":", 3)[1]) for did, owner in rows if int(owner.rsplit(":", 3)[1]) in pids}


def _worker(stack: Stack, name: str) -> Child:
    child = Child(coursework_argv("worker", "-Q", "notifications", "-c", "2", "-n", f"{name}@%h"), stack.env(),
                  LOG_DIR / f"worker-{name}.log").start()
    stack.children.append(child)
    return child


def _all_done(url: str, job_id: str) -> bool:
    with unit_of_work(url) as s:
        states = list(s.scalars(select(Job.state).where((Job.id == job_id) | (Job.parent_id == job_id))))
    return len(states) > 1 and all(st == "succeeded" for st in states)
