"""Tutor sessions and messages: what intake does for the web tier (create, post, end, read)."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from domain.core.models import Course, Lesson, Module, User
from domain.db import utcnow
from domain.jobs import states
from domain.jobs.errors import InvalidPayload, JobError
from domain.jobs.models import Job
from domain.tutor import exercises
from domain.tutor.models import TutorMessage, TutorSession
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


def _settle_in_flight(s: Session, session_id: str) -> None:
    """A reply still pending whose job has ended (failed before it could say so) is marked failed."""
    for msg in s.scalars(select(TutorMessage).where(TutorMessage.session_id == session_id,
                                                    TutorMessage.role == "assistant",
                                                    TutorMessage.status.in_(("pending", "streaming")))):
        job = s.get(Job, msg.job_id) if msg.job_id else None
        if job is not None and job.state in states.TERMINAL:
            msg.status, msg.error = "failed", f"job {job.state}"
            continue
        raise ReplyInProgress("the tutor is still answering the previous message in this session")


def post(s: Session, sess: TutorSession, content: str) -> tuple[TutorMessage, TutorMessage]:
    """The learner's message and the (pending) assistant reply that a job will fill."""
    if sess.status != "active":
        raise SessionEnded("this tutor session has ended")
    _settle_in_flight(s, sess.id)
    now = utcnow()
    question = TutorMessage(session_id=sess.id, role="user", content=content, status="complete",
                            prompt_tokens=estimate_tokens(content), created_at=now, completed_at=now)
    reply = TutorMessage(session_id=sess.id, role="assistant", content="", status="pending",
                         created_at=now + timedelta(microseconds=1))
    s.add_all([question, reply])
    s.flush()
    return question, reply


def end(s: Session, sess: TutorSession) -> None:
    if sess.status != "ended":
        sess.status, sess.ended_at = "ended", utcnow()


def messages(s: Session, session_id: str) -> list[TutorMessage]:
    return list(s.scalars(select(TutorMessage).where(TutorMessage.session_id == session_id)
                          .order_by(TutorMessage.created_at, TutorMessage.id)))


def latest_reply(s: Session, session_id: str) -> TutorMessage | None:
    return s.scalar(select(TutorMessage).where(TutorMessage.session_id == session_id,
                                              TutorMessage.role == "assistant")
                    .order_by(TutorMessage.created_at.desc(), TutorMessage.id.desc()).limit(1))
