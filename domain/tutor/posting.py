"""Posting a learner's message: one transaction writes both turns and the ``tutor_reply`` job
that answers them, or names the reply an earlier request with the same ``Idempotency-Key`` got."""
from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Callable

from sqlalchemy import select

from domain.db import new_id, session_factory
from domain.jobs import enqueueing
from domain.jobs.errors import JobError
from domain.jobs.models import Job
from domain.tutor import sessions
from domain.tutor.models import TutorMessage


class SessionNotFound(JobError):
    code = "not_found"


# messages are written two at a time per intake process: under a burst, threads sharing one
# interpreter otherwise take turns, so every job of the burst is published late; taken (almost) in
# turn, the first ones are published at once and the worker starts on them while the rest are
# written. Only an order: a message that waits 50 ms for its turn (a slow database or Redis)
# goes ahead anyway.
_POSTING = threading.BoundedSemaphore(2)


@contextmanager
def _in_turn(wait: float = 0.05):
    turn = _POSTING.acquire(timeout=wait)
    try:
        yield
    finally:
        if turn:
            _POSTING.release()


def post(url: str, caller_key: str, session_id: str, content: str, idempotency_key: str | None,
         check_budget: Callable[[str], None]) -> dict:
    """``{"message", "reply", "job"}`` for a new turn, or ``{"reply", "job", "replayed": True}`` for
    a retried request. One transaction, four statements: the session (locked) with its replies in
    flight, the job (with its outbox row and event), both messages, and the commit.

    Raises ``SessionNotFound``, ``sessions.SessionEnded``, ``sessions.ReplyInProgress``,
    ``enqueueing.IdempotencyConflict`` and whatever ``check_budget(user_id)`` raises."""
    with _in_turn(), session_factory(url)() as s:      # closing without a commit rolls back
        target = sessions.target_for_post(s, session_id)
        if target is None:
            raise SessionNotFound(f"no tutor session {session_id!r}")
        if idempotency_key:     # a retried POST: answer with the first request's reply
            earlier = s.scalar(select(Job).where(Job.caller == caller_key, Job.idempotency_key == idempotency_key))
            if earlier is not None:
                if earlier.kind != "tutor_reply" or earlier.payload.get("session_id") != session_id:
                    raise enqueueing.IdempotencyConflict(earlier.id)
                return _replayed(s, earlier)
        check_budget(target.user_id)
        target.check(s)
        reply_id = new_id()     # chosen before its job is written: the job carries it
        # the reply is written just below, in this transaction: nothing for the kind's check to look up
        job, created = enqueueing.enqueue(s, "tutor_reply", {"session_id": session_id, "reply_id": reply_id},
                                       caller=caller_key, idempotency_key=idempotency_key, check_data=False)
        if not created:         # the same key committed meanwhile: write nothing, answer with its reply
            return _replayed(s, job)
        question, reply = sessions.add_turn(s, session_id, content, reply_id, job.id)
        s.commit()
        return {"message": question, "reply": reply, "job": job.to_dict()}


def _replayed(s, job: Job) -> dict:
    return {"reply": s.get(TutorMessage, job.payload["reply_id"]).to_dict(), "job": job.to_dict(), "replayed": True}
