"""Compose one tutor reply: retrieve passages, call the model, stream through the hint guard,
persist the full reply, charge the learner's budget. Safe to run twice: a finished reply is
returned as stored; a rerun of an unfinished one starts over (its ``start`` entry tells listeners)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, ContextManager

from sqlalchemy import select

from domain.core.models import Course
from domain.db import utcnow
from domain.jobs.errors import PermanentError
from domain.tutor import exercises, guard, passages, prompt
from domain.tutor.models import TutorCourseIndex, TutorMessage, TutorSession
from domain.tutor.providers import Delta, Provider, Usage, estimate_tokens
from domain.tutor.retrieval import BM25, Hit, relevant


@dataclass
class Turn:
    session_id: str
    user_id: str
    course_id: str
    course_title: str
    lesson_id: str | None
    mode: str
    question: str
    history: list[dict]
    index: BM25
    solution: str | None


def _result(msg: TutorMessage) -> dict:
    return {"reply_id": msg.id, "session_id": msg.session_id, "status": msg.status, "provider": msg.provider,
            "covered": bool(msg.citations), "blocked": msg.blocked,
            "citations": [{"lesson_id": c["lesson_id"], "lesson_title": c["lesson_title"]} for c in msg.citations],
            "prompt_tokens": msg.prompt_tokens, "completion_tokens": msg.completion_tokens,
            "chars": len(msg.content)}


def load_turn(s, reply_id: str) -> Turn | TutorMessage:
    """The reply's context, or the finished reply itself (nothing left to do)."""
    reply = s.get(TutorMessage, reply_id, with_for_update=True)
    if reply is None or reply.role != "assistant":
        raise PermanentError(f"no pending tutor reply {reply_id!r}", code="not_found")
    if reply.status == "complete":
        return reply
    sess, course_title, indexed_at = s.execute(   # the session, its course's title and index time at once
        select(TutorSession, Course.title, TutorCourseIndex.indexed_at)
        .join(Course, Course.id == TutorSession.course_id)
        .outerjoin(TutorCourseIndex, TutorCourseIndex.course_id == TutorSession.course_id)
        .where(TutorSession.id == reply.session_id)).one()
    earlier = list(s.scalars(select(TutorMessage).where(TutorMessage.session_id == sess.id,
                                                        TutorMessage.created_at <= reply.created_at,
                                                        TutorMessage.id != reply.id)
                             .order_by(TutorMessage.created_at, TutorMessage.id)))
    users = [m for m in earlier if m.role == "user"]
    if not users:
        raise PermanentError("the reply has no question before it", code="no_question")
    question = users[-1]
    history = [{"role": m.role, "content": m.content} for m in earlier
               if m.id != question.id and (m.role == "user" or m.status == "complete")]
    index = passages.course_index(s, sess.course_id, indexed_at=indexed_at)
    solution = exercises.reference_solution(s, sess.exercise_id) if sess.mode == "hint" else None
    reply.status = "streaming"
    return Turn(sess.id, sess.user_id, sess.course_id, course_title, sess.lesson_id, sess.mode,
                question.content, history, index, solution)


class GuardedOutput:
    """Publishes streamed text; in hint mode keeps the tail unpublished until the guard has seen it."""

    def __init__(self, out: Any, solution: str | None):
        self.out, self.solution, self.hold = out, solution, guard.holdback(solution)
        self.text, self.published, self.verdict = "", 0, guard.Verdict(False)

    def feed(self, text: str) -> bool:
        self.text += text
        if self.solution:
            self.verdict = guard.check(self.text, self.solution)
            if self.verdict.blocked:
                return False
        safe = len(self.text) - self.hold
        if safe > self.published:
            self.out.token(self.text[self.published:safe])
            self.published = safe
        return True

    def finish(self) -> str:
        if self.verdict.blocked:
            if self.published:
                self.out.reset(self.verdict.reason)
            self.out.token(guard.REFUSAL)
            return guard.REFUSAL
        self.out.token(self.text[self.published:])
        return self.text


def _fail(uow, reply_id: str, out: Any, code: str, message: str) -> None:
    with uow() as s:
        msg = s.get(TutorMessage, reply_id, with_for_update=True)
        if msg is not None and msg.status != "complete":
            msg.status, msg.error, msg.completed_at = "failed", f"{code}: {message}"[:2000], utcnow()
    out.error(code, message)


def reply(uow: Callable[[], ContextManager], reply_id: str, *, provider_for: Callable[[list[Hit], str], Provider],
          out: Any, budget: Any, attempt: int = 1, k: int = 4) -> dict:
    with uow() as s:
        turn = load_turn(s, reply_id)
        if isinstance(turn, TutorMessage):
            return _result(turn)
    try:
        budget.check(turn.user_id)
        hits = relevant(turn.index.search(turn.question, k=k, boost_lesson=turn.lesson_id), turn.question)
        out.start(attempt)
        guarded = GuardedOutput(out, turn.solution)
        usage, provider_name = None, "none"
        if not hits:
            guarded.feed(prompt.NOT_COVERED)
        else:
            provider = provider_for(hits, turn.question)
            provider_name = provider.name
            messages = prompt.build(turn.course_title, hits, turn.question, turn.history, turn.mode, turn.solution)
            stream = provider.stream(messages)
            try:
                for item in stream:
                    if isinstance(item, Usage):
                        usage = item
                    elif isinstance(item, Delta) and not guarded.feed(item.text):
                        break
            finally:
                close = getattr(stream, "close", None)
                if close:
                    close()
        text = guarded.finish()
        if usage is None:
            usage = Usage(estimate_tokens(turn.question) + sum(estimate_tokens(h.doc.text) for h in hits),
                          estimate_tokens(text))
    except PermanentError as exc:     # includes BudgetExhausted and the provider errors
        _fail(uow, reply_id, out, exc.code, exc.message)
        raise
    # anything else (a database or Redis blip, a bug) is left to the job lifecycle: it may retry,
    # and a retry's ``start`` tells listeners to start over; the stream endpoint reports a job that ended
    cites = prompt.citations(hits)
    with uow() as s:
        msg = s.get(TutorMessage, reply_id, with_for_update=True)
        msg.content, msg.status, msg.completed_at = text, "complete", utcnow()
        msg.prompt_tokens, msg.completion_tokens = usage.prompt_tokens, usage.completion_tokens
        msg.citations, msg.provider, msg.blocked, msg.error = cites, provider_name, guarded.verdict.blocked, None
        result = _result(msg)
        body = msg.to_dict()
    budget.charge(turn.user_id, reply_id, usage.prompt_tokens + usage.completion_tokens)
    out.done(body)
    return result
