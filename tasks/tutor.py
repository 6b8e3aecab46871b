"""Tasks of the tutor family (queue ``tutor``): compose a streamed reply, index a course."""
from __future__ import annotations

from functools import lru_cache

from domain.tutor import engine, passages
from domain.tutor.budget import DailyBudget
from domain.tutor.providers import LocalTutor, OpenAIProvider
from domain.tutor.replay import Coalescer, ReplyLog
from workers import events
from workers.base import job_task
from workers.per_process import PerProcess


@lru_cache(maxsize=4)
def _openai(api_key: str, base_url: str | None, model: str, request_timeout: float, idle_timeout: float,
            max_retry_wait: float) -> OpenAIProvider:
    return OpenAIProvider(api_key=api_key, base_url=base_url, model=model, request_timeout=request_timeout,
                          idle_timeout=idle_timeout, max_retry_wait=max_retry_wait)


def provider_for(settings):
    def choose(hits, question):
        if not settings.openai_api_key:
            return LocalTutor(hits, question)
        return _openai(settings.openai_api_key, settings.openai_base_url, settings.openai_model,
                       settings.tutor_request_timeout, settings.tutor_idle_timeout, settings.tutor_max_retry_wait)
    return choose


TOKEN_FLUSH_SECONDS = 0.05   # after the first token, a reply's tokens reach Redis (and the browser) this often

# one token flusher per worker process: every reply's held tokens go out in one pipeline
_coalescer = PerProcess(lambda: Coalescer(events.client(), interval=TOKEN_FLUSH_SECONDS))


@job_task("tutor_reply")
def reply(ctx, payload):
    settings = ctx.settings
    out = ReplyLog(ctx.redis, payload.reply_id, settings.tutor_replay_ttl, coalescer=_coalescer())
    return engine.reply(ctx.uow, payload.reply_id, provider_for=provider_for(settings), out=out,
                        budget=DailyBudget(ctx.redis, settings.tutor_daily_token_budget), attempt=ctx.attempt)


@job_task("tutor_index")
def index(ctx, payload):
    with ctx.uow() as session:
        return passages.index_course(session, payload.course_id)
