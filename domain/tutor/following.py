"""Following a reply: which reply a stream follows, the reply as stored once it is over, and
the reply log's entries as the events a browser receives (``start``, ``token``..., ``done`` or
``error``). The transport (Redis reads, server-sent events) is the caller's."""
from __future__ import annotations

from sqlalchemy import Row, bindparam, select

from domain.db import get_engine
from domain.jobs import states
from domain.jobs.errors import JobError
from domain.jobs.models import Job
from domain.tutor import replay
from domain.tutor.models import TutorMessage, TutorSession, message_dict

Event = tuple[str, dict]        # (event name, data)


class NotFound(JobError):
    code = "not_found"


# built once
_WITH_JOB_STATE = (select(*TutorMessage.__table__.columns, Job.state.label("job_state"))
                   .outerjoin(Job, Job.id == TutorMessage.job_id))
_REPLY_STATE = _WITH_JOB_STATE.where(TutorMessage.id == bindparam("reply_id"))
_LATEST_REPLY_STATE = (_WITH_JOB_STATE
                       .where(TutorMessage.session_id == bindparam("session_id"), TutorMessage.role == "assistant")
                       .order_by(TutorMessage.created_at.desc(), TutorMessage.id.desc()).limit(1))
_SESSION_EXISTS = select(TutorSession.id).where(TutorSession.id == bindparam("session_id"))


def _read(url: str, stmt, params: dict) -> Row | None:
    # one read, autocommitted: no BEGIN and ROLLBACK round trips around it
    with get_engine(url).connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        return conn.execute(stmt, params).first()


def reply_state(url: str, reply_id: str) -> tuple[Row | None, str | None]:
    """(the reply's row, its job's state), one query."""
    row = _read(url, _REPLY_STATE, {"reply_id": reply_id})
    return (row, row.job_state) if row else (None, None)


def stored(msg: Row, job_state: str | None) -> list[Event] | None:
    """The whole reply from the database, when Redis no longer (or never) has it and it is over."""
    if msg.status == "complete":
        body = message_dict(msg)
        return [("start", {"attempt": 0, "replayed_from": "database"}), ("token", {"text": body["content"]}),
                ("done", body)]
    if msg.status == "failed" or job_state in states.TERMINAL:
        return [("error", {"code": "reply_failed", "message": msg.error or f"job {job_state}"})]
    return None


def pick(url: str, session_id: str, reply_id: str | None) -> tuple[str, list[Event] | None]:
    """The reply to follow (the one named, else the session's latest) and, if it is over already,
    its stored form: one query when the session has it. Raises ``NotFound``."""
    if reply_id:
        msg, job_state = reply_state(url, reply_id)
        if msg is not None and msg.session_id == session_id and msg.role == "assistant":
            return msg.id, stored(msg, job_state)
        _session_exists(url, session_id)
        raise NotFound(f"no reply {reply_id!r} in this session",
                       details=[{"field": "reply_id", "message": "not a reply of this session"}])
    msg = _read(url, _LATEST_REPLY_STATE, {"session_id": session_id})
    if msg is None:
        _session_exists(url, session_id)
        raise NotFound("this session has no reply to follow yet")
    return msg.id, stored(msg, msg.job_state)


def _session_exists(url: str, session_id: str) -> None:
    if _read(url, _SESSION_EXISTS, {"session_id": session_id}) is None:
        raise NotFound(f"no tutor session {session_id!r}")


def merge(entries) -> tuple[list[tuple[str, str, dict]], bool]:
    """Events for a batch of reply-log entries: consecutive tokens already waiting are sent as one
    ``token`` event (ids stay resumable: it carries the last one). Returns (id, event, data) up to
    a final entry, and whether one was reached."""
    out: list[tuple[str, str, dict]] = []
    text: list[str] = []
    text_id = ""
    for entry_id, fields in entries:
        entry_id = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
        kind, data = replay.decode(fields)
        if kind == "token":
            text.append(data.get("text", ""))
            text_id = entry_id
            continue
        if text:
            out.append((text_id, "token", {"text": "".join(text)}))
            text = []
        out.append((entry_id, kind, data))
        if kind in replay.FINAL:
            return out, True
    if text:
        out.append((text_id, "token", {"text": "".join(text)}))
    return out, False
