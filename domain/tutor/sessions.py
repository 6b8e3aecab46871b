"""Tutor sessions and messages: what intake does for the web tier (create, post, end, read)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from types import SimpleNamespace

from sqlalchemy import and_, bindparam, select, text, update
from sqlalchemy.orm import Session

from domain.core.models import Course, Lesson, Module, User
from domain.db import utcnow
from domain.jobs import states
from domain.jobs.errors import InvalidPayload, JobError
from domain.jobs.models import Job
from domain.tutor import exercises
from domain.tutor.models import TutorMessage, TutorSession, message_dict
from domain.tutor.providers import estimate_tokens


class SessionEnded(JobError):
    code = "session_ended"


class ReplyInProgress(JobError):
    code = "reply_in_progress"


def create(s: Session, *, user_id: str, course_id: str, lesson_id: str | None = None,
           exercise_id: str | None = None, mode: str = "explain", topic: str = "") -> TutorSession:
    if s.get(User, user_id) is None:
        raise InvalidPayload("user_id", f"no user {user_id!r}")
    if s.get(Course, course_id) is None:
        raise InvalidPayload("course_id", f"no course {course_id!r}")
    if lesson_id is not None:
        in_course = s.scalar(select(Lesson.id).join(Module).where(Lesson.id == lesson_id, Module.course_id == course_id))
        if in_course is None:
            raise InvalidPayload("lesson_id", f"no lesson {lesson_id!r} in course {course_id!r}")
    if mode == "hint" and not exercise_id:
        raise InvalidPayload("exercise_id", "hint mode is for a graded exercise: give its exercise_id")
    if exercise_id is not None and exercises.exists(s, exercise_id) is False:
        raise InvalidPayload("exercise_id", f"no exercise {exercise_id!r}")
    sess = TutorSession(user_id=user_id, course_id=course_id, lesson_id=lesson_id, exercise_id=exercise_id,
                        mode=mode, topic=topic, status="active")
    s.add(sess)
    s.flush()
    return sess


@dataclass(frozen=True)
class PostTarget:
    """What posting a message needs to know of a session, read in one locked query."""

    session_id: str
    user_id: str
    status: str
    in_flight: tuple[tuple[str, str | None], ...]    # (reply id, its job's state) still pending / streaming

    def check(self, s: Session) -> None:
        """Refuse a message to an ended session or while a reply is under way; a reply whose job has
        ended without it (failed before it could say so) is marked failed and does not block."""
        if self.status != "active":
            raise SessionEnded("this tutor session has ended")
        for reply_id, job_state in self.in_flight:
            if job_state not in states.TERMINAL:
                raise ReplyInProgress("the tutor is still answering the previous message in this session")
        for reply_id, job_state in self.in_flight:
            s.execute(update(TutorMessage).where(TutorMessage.id == reply_id)
                      .values(status="failed", error=f"job {job_state}"))


# built once: building a statement costs about what running it does
_TARGET = (select(TutorSession.user_id, TutorSession.status, TutorMessage.id, Job.state)
           .outerjoin(TutorMessage, and_(TutorMessage.session_id == TutorSession.id, TutorMessage.role == "assistant",
                                         TutorMessage.status.in_(("pending", "streaming"))))
           .outerjoin(Job, Job.id == TutorMessage.job_id)
           .where(TutorSession.id == bindparam("session_id"))
           .with_for_update(of=TutorSession))


def target_for_post(s: Session, session_id: str) -> PostTarget | None:
    """The session and its replies in flight with their jobs' states, one query; the session row is
    locked until commit, so two messages posted at once to one session are taken one at a time."""
    rows = s.connection().execute(_TARGET, {"session_id": session_id}).all()
    if not rows:
        return None
    return PostTarget(session_id, rows[0][0], rows[0][1], tuple((r[2], r[3]) for r in rows if r[2] is not None))


_COLUMNS = tuple(TutorMessage.__table__.columns)
_NAMES = tuple(c.name for c in _COLUMNS)
# both rows in one statement, built once (a multi-row ``insert().values([...])`` is compiled on every call)
_ADD_TURN = text(
    f"INSERT INTO tutor_messages ({', '.join(_NAMES)}) VALUES "
    + ", ".join("(" + ", ".join(f":{c}_{n}" for c in _NAMES) + ")" for n in (0, 1))
).bindparams(*(bindparam(f"{c.name}_{n}", type_=c.type) for n in (0, 1) for c in _COLUMNS))


def _row(**values) -> dict:
    """A message row: ``values`` over the model's column defaults (None where a column has none)."""
    row = {c.name: None if c.default is None else c.default.arg if c.default.is_scalar else c.default.arg(None)
           for c in _COLUMNS if c.name not in values}
    return {**row, **values}


def add_turn(s: Session, session_id: str, content: str, reply_id: str, job_id: str | None) -> tuple[dict, dict]:
    """The learner's message and the pending reply its job fills, written by one INSERT; returned as
    the API shows them."""
    now = utcnow()
    question = _row(session_id=session_id, role="user", content=content, status="complete",
                    prompt_tokens=estimate_tokens(content), created_at=now, completed_at=now)
    reply = _row(session_id=session_id, id=reply_id, role="assistant", content="", status="pending",
                 job_id=job_id, created_at=now + timedelta(microseconds=1))
    params = {f"{c}_{n}": row[c] for n, row in enumerate((question, reply)) for c in _NAMES}
    s.connection().execute(_ADD_TURN, params)
    return message_dict(SimpleNamespace(**question)), message_dict(SimpleNamespace(**reply))


def end(s: Session, sess: TutorSession) -> None:
    if sess.status != "ended":
        sess.status, sess.ended_at = "ended", utcnow()


def messages(s: Session, session_id: str) -> list[TutorMessage]:
    return list(s.scalars(select(TutorMessage).where(TutorMessage.session_id == session_id)
                          .order_by(TutorMessage.created_at, TutorMessage.id)))

