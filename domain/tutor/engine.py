"""Compose one tutor reply: retrieve passages, call the model, stream through the hint guard,
persist the full reply, charge the learner's budget. Safe to run twice: a finished reply is
returned as stored; a rerun of an unfinished one starts over (its ``start`` entry tells listeners)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable, ContextManager

from sqlalchemy import and_, bindparam, select, update

from domain.core.models import Course
from domain.db import utcnow
from domain.jobs.errors import PermanentError
from domain.tutor import exercises, guard, passages, prompt
from domain.tutor.models import TutorCourseIndex, TutorMessage, TutorSession, message_dict
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
    index: BM25 | None      # None: this process has no index of the course as last indexed (see ``course_index``)
    indexed_at: datetime | None
    solution: str | None                                # hint mode: what the guard keeps out (never sent)
    exercise: exercises.HintContext | None = None       # hint mode: what the model is given instead


def _result(msg: TutorMessage) -> dict:
    return {"reply_id": msg.id, "session_id": msg.session_id, "status": msg.status, "provider": msg.provider,
            "covered": bool(msg.citations), "blocked": msg.blocked,
            "citations": [{"lesson_id": c["lesson_id"], "lesson_title": c["lesson_title"]} for c in msg.citations],
            "prompt_tokens": msg.prompt_tokens, "completion_tokens": msg.completion_tokens,
            "chars": len(msg.content)}


MAX_REPLY_TOKENS = 800     # the most completion a reply asks the model for
MIN_REPLY_TOKENS = 64      # a reply with less room than this left in the learner's day is not started


def prompt_tokens(messages: list[dict]) -> int:
    """What the prompt will cost, estimated on the safe side (a few tokens of framing per message)."""
    return sum(estimate_tokens(m["content"]) + 4 for m in messages)


# statements built once, not per reply
_MARK_STREAMING = (update(TutorMessage)
                   .where(TutorMessage.id == bindparam("reply_id"), TutorMessage.role == "assistant",
                          TutorMessage.status != "complete")
                   .values(status="streaming")
                   .returning(TutorMessage.session_id, TutorMessage.created_at))
_TURN = (select(TutorSession.id.label("session_id"), TutorSession.user_id, TutorSession.course_id, TutorSession.lesson_id, TutorSession.exercise_id,
                TutorSession.mode, Course.title, TutorCourseIndex.indexed_at,
                TutorMessage.id, TutorMessage.role, TutorMessage.status, TutorMessage.content)
         .select_from(TutorSession)
         .join(Course, Course.id == TutorSession.course_id)
         .outerjoin(TutorCourseIndex, TutorCourseIndex.course_id == TutorSession.course_id)
         .outerjoin(TutorMessage, and_(TutorMessage.session_id == TutorSession.id,
                                       TutorMessage.created_at <= bindparam("created_at"),
                                       TutorMessage.id != bindparam("reply_id")))
         .where(TutorSession.id == bindparam("session_id"))
         .order_by(TutorMessage.created_at.desc(), TutorMessage.id.desc())
         .limit(bindparam("recent")))
# both at once on PostgreSQL: the reply marked in a CTE, its turn read around it (one round trip)
_MARKED = _MARK_STREAMING.cte("marked")
_MARK_AND_TURN = (select(_MARKED.c.session_id, TutorSession.user_id, TutorSession.course_id, TutorSession.lesson_id,
                         TutorSession.exercise_id, TutorSession.mode, Course.title, TutorCourseIndex.indexed_at,
                         TutorMessage.id, TutorMessage.role, TutorMessage.status, TutorMessage.content)
                  .select_from(_MARKED)
                  .join(TutorSession, TutorSession.id == _MARKED.c.session_id)
                  .join(Course, Course.id == TutorSession.course_id)
                  .outerjoin(TutorCourseIndex, TutorCourseIndex.course_id == TutorSession.course_id)
                  .outerjoin(TutorMessage, and_(TutorMessage.session_id == _MARKED.c.session_id,
                                                TutorMessage.created_at <= _MARKED.c.created_at,
                                                TutorMessage.id != bindparam("reply_id")))
                  .order_by(TutorMessage.created_at.desc(), TutorMessage.id.desc())
                  .limit(bindparam("recent")))
# a statement that is its own transaction: no BEGIN and COMMIT round trips around it
AUTOCOMMIT = {"isolation_level": "AUTOCOMMIT"}
_STORED = ("content", "status", "completed_at", "prompt_tokens", "completion_tokens", "citations", "provider",
           "blocked", "error")
_STORE = (update(TutorMessage).where(TutorMessage.id == bindparam("reply_id"))
          .values({name: bindparam(f"new_{name}") for name in _STORED})
          .returning(*TutorMessage.__table__.columns))


# the question and, before it, enough turns for the prompt's history: a session's messages alternate
# (question, reply), and when every reply failed only the questions count, so 2 rows per message kept
HISTORY_ROWS = 2 * prompt.MAX_HISTORY + 1


def load_turn(s, reply_id: str, recent: int = HISTORY_ROWS) -> Turn | TutorMessage:
    """The reply's context, or the finished reply itself (nothing left to do). The reply is marked
    streaming (which locks it against a concurrent rerun) and the session, its course's title and
    index time and its ``recent`` latest messages are read: one statement on PostgreSQL, two
    elsewhere. The turn's ``index`` is the process's cached one, or None (``course_index`` builds it)."""
    conn = s.connection()
    params = {"reply_id": reply_id, "recent": recent}
    if conn.dialect.name == "postgresql":
        rows = conn.execute(_MARK_AND_TURN, params).all()
    else:       # no UPDATE in a CTE (SQLite)
        marked = conn.execute(_MARK_STREAMING, params).first()
        rows = [] if marked is None else conn.execute(
            _TURN, {**params, "session_id": marked.session_id, "created_at": marked.created_at}).all()
    if not rows:      # missing, not a reply, or finished: the slow path says which
        reply = s.get(TutorMessage, reply_id)
        if reply is None or reply.role != "assistant":
            raise PermanentError(f"no pending tutor reply {reply_id!r}", code="not_found")
        return reply
    earlier = [r for r in reversed(rows) if r.id is not None]    # oldest first
    users = [m for m in earlier if m.role == "user"]
    if not users:
        raise PermanentError("the reply has no question before it", code="no_question")
    question = users[-1]
    history = [{"role": m.role, "content": m.content} for m in earlier
               if m.id != question.id and (m.role == "user" or m.status == "complete")]
    first = rows[0]
    hint = first.mode == "hint"
    solution = exercises.reference_solution(s, first.exercise_id) if hint else None
    exercise = exercises.hint_context(s, first.exercise_id, first.user_id) if hint else None
    return Turn(first.session_id, first.user_id, first.course_id, first.title, first.lesson_id, first.mode,
                question.content, history, passages.cached_index(first.course_id, first.indexed_at),
                first.indexed_at, solution, exercise)


class GuardedOutput:
    """Publishes streamed text. In hint mode nothing is published until the whole reply has been
    checked (a disguised copy of the solution can be longer than any fixed hold-back), so a
    blocked hint shows the learner only the refusal: no token of it, nothing of the prompt."""

    CHECK_EVERY = 200    # characters between early checks of a held hint (stop the model sooner)

    def __init__(self, out: Any, solution: str | None):
        self.out, self.solution = out, solution
        self.text, self.published, self.checked, self.verdict = "", 0, 0, guard.Verdict(False)

    def _check(self) -> bool:
        self.checked = len(self.text)
        self.verdict = guard.check(self.text, self.solution, (prompt.HINT_RULES,))
        return not self.verdict.blocked

    def feed(self, text: str) -> bool:
        self.text += text
        if self.solution:       # held whole; checked now and then so a leaking model is stopped early
            return len(self.text) - self.checked < self.CHECK_EVERY or self._check()
        self.out.token(self.text[self.published:])
        self.published = len(self.text)
        return True

    def finish(self) -> str:
        if self.solution and not self.verdict.blocked:
            self._check()
        if self.verdict.blocked:
            self.out.token(guard.REFUSAL)
            return guard.REFUSAL
        if len(self.text) > self.published:
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
    turn = _turn(uow, reply_id)
    if isinstance(turn, TutorMessage):
        return _result(turn)
    hits = relevant(turn.index.search(turn.question, k=k, boost_lesson=turn.lesson_id), turn.question)
    composed = _compose(uow, reply_id, turn, hits, provider_for, out, budget, attempt)
    # anything but a PermanentError (a database or Redis blip, a bug) is left to the job lifecycle: it
    # may retry, and a retry's ``start`` tells listeners to start over; the stream endpoint reports a
    # job that ended
    return _store(uow, reply_id, turn, hits, composed, out, budget)


def _turn(uow: Callable[[], ContextManager], reply_id: str) -> Turn | TutorMessage:
    """The reply's turn with its course's index, or the finished reply itself."""
    with uow() as s:
        s.connection(execution_options=AUTOCOMMIT)     # load_turn's statement stands alone
        turn = load_turn(s, reply_id)
    if isinstance(turn, Turn) and turn.index is None:   # this process's first reply on the course, or re-indexed
        with uow() as s:        # a transaction: concurrent first replies of a new course queue on its row
            turn.index = passages.course_index(s, turn.course_id, indexed_at=turn.indexed_at)
    return turn


@dataclass
class Composed:
    text: str
    usage: Usage
    provider: str
    blocked: bool


def _compose(uow: Callable[[], ContextManager], reply_id: str, turn: Turn, hits: list[Hit],
             provider_for: Callable[[list[Hit], str], Provider], out: Any, budget: Any, attempt: int) -> Composed:
    """Hold what the reply may cost, then stream it (the model's, or the not-covered line) through
    the hint guard. A permanent error releases the hold and fails the reply before it goes on."""
    reserved = 0
    try:
        if hits:
            provider = provider_for(hits, turn.question)
            messages = prompt.build(turn.course_title, hits, turn.question, turn.history, turn.mode, turn.exercise)
            asked = prompt_tokens(messages)
            # what the reply may cost is held before the model is called; the model is asked for no
            # more than what is left of the learner's day
            reserved = budget.reserve(turn.user_id, reply_id, asked + MAX_REPLY_TOKENS, asked + MIN_REPLY_TOKENS)
        else:
            reserved = budget.reserve(turn.user_id, reply_id,
                                      estimate_tokens(turn.question) + estimate_tokens(prompt.NOT_COVERED))
        out.start(attempt)
        guarded = GuardedOutput(out, turn.solution)
        usage, provider_name = None, "none"
        if hits:
            usage, provider_name = _stream(provider, messages, reserved - asked, guarded), provider.name
        else:
            guarded.feed(prompt.NOT_COVERED)
        text = guarded.finish()
    except PermanentError as exc:     # includes BudgetExhausted and the provider errors
        if reserved:
            budget.settle(turn.user_id, reply_id, 0)      # nothing was delivered: the hold is released
        _fail(uow, reply_id, out, exc.code, exc.message)
        raise
    if usage is None:
        usage = Usage(estimate_tokens(turn.question) + sum(estimate_tokens(h.doc.text) for h in hits),
                      estimate_tokens(text))
    return Composed(text, usage, provider_name, guarded.verdict.blocked)


def _stream(provider: Provider, messages: list[dict], max_tokens: int, guarded: GuardedOutput) -> Usage | None:
    """The model's deltas fed to the guard until it stops them; the usage the provider reported."""
    usage = None
    stream = provider.stream(messages, max_tokens=max_tokens)
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
    return usage


def _store(uow: Callable[[], ContextManager], reply_id: str, turn: Turn, hits: list[Hit], composed: Composed,
           out: Any, budget: Any) -> dict:
    """The finished reply stored (one UPDATE ... RETURNING), then ``done`` with its charge settled."""
    with uow() as s:
        stored = dict(content=composed.text, status="complete", completed_at=utcnow(),
                      prompt_tokens=composed.usage.prompt_tokens, completion_tokens=composed.usage.completion_tokens,
                      citations=prompt.citations(hits), provider=composed.provider, blocked=composed.blocked,
                      error=None)
        row = s.connection(execution_options=AUTOCOMMIT).execute(
            _STORE, {"reply_id": reply_id, **{f"new_{k}": v for k, v in stored.items()}}).one()
    result, body = _result(row), message_dict(row)
    # settled in the same round trip as ``done``, before it: a listener that sees the end sees the charge
    tokens = composed.usage.prompt_tokens + composed.usage.completion_tokens
    out.done(body, before=lambda pipe: budget.settle(turn.user_id, reply_id, tokens, client=pipe))
    return result
