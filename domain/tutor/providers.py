"""Model providers behind one small interface: ``stream(messages) -> iterator of Delta | Usage``.

``OpenAIProvider`` uses the official ``openai`` client (any OpenAI-compatible server: OpenAI,
vLLM, llama.cpp server, Ollama) with the client's own retries off: this module retries 429 and
5xx itself, honouring ``Retry-After`` and a cap on the total wait, fails at once on
``insufficient_quota``, and enforces an idle timeout between streamed chunks and a request timeout.
``LocalTutor`` answers offline from the retrieved passages (extractive, no network).
"""
from __future__ import annotations

import random
import re
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Callable, Iterator, Protocol

import openai

from domain.jobs.errors import PermanentError
from domain.tutor.retrieval import Hit, terms


@dataclass(frozen=True)
class Delta:
    text: str


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int


class Provider(Protocol):
    name: str

    def stream(self, messages: list[dict], *, max_tokens: int = 800) -> Iterator[Delta | Usage]: ...


class ProviderError(PermanentError):
    code = "provider_error"


class QuotaExhausted(ProviderError):
    code = "insufficient_quota"


class ProviderUnavailable(ProviderError):
    code = "provider_unavailable"


class ProviderStalled(ProviderError):
    code = "provider_stalled"


class ProviderTimeout(ProviderError):
    code = "provider_timeout"


class ProviderRejected(ProviderError):
    code = "provider_rejected"


def retry_after_seconds(headers, now: float | None = None) -> float | None:
    """``retry-after-ms``, ``retry-after`` in seconds, or ``retry-after`` as an HTTP date."""
    if headers is None:
        return None
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return max(0.0, float(ms) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            when = parsedate_to_datetime(value).timestamp()
        except (TypeError, ValueError):
            return None
        return max(0.0, when - (now if now is not None else time.time()))


def backoff(attempt: int, base: float = 0.25, maximum: float = 8.0) -> float:
    """Exponential backoff with jitter for a retry without ``Retry-After``."""
    delay = min(maximum, base * 2 ** attempt)
    return delay * random.uniform(0.75, 1.0)


_AUTH = {"security": {"bearer_auth": True}}     # as the client's chat.completions resource asks


class OpenAIProvider:
    def __init__(self, *, api_key: str, base_url: str | None, model: str, request_timeout: float,
                 idle_timeout: float, max_retry_wait: float, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic):
        self.model, self.name = model, f"openai:{model}"
        self.request_timeout, self.max_retry_wait = request_timeout, max_retry_wait
        self.sleep, self.clock = sleep, clock
        timeout = openai.Timeout(request_timeout, connect=min(10.0, request_timeout), read=idle_timeout)
        self.client = openai.OpenAI(api_key=api_key, base_url=base_url, max_retries=0, timeout=timeout)

    def _open(self, messages: list[dict], max_tokens: int, started: float):
        # what ``client.chat.completions.create(..., stream=True)`` sends, through the client's own
        # ``post``: the same request, retries, errors and SSE stream, minus the per-request walk of
        # the params against their TypedDicts and a pydantic model per chunk; our params are
        # already plain JSON and chunks are read as dicts
        body = {"model": self.model, "messages": messages, "stream": True, "max_tokens": max_tokens,
                "stream_options": {"include_usage": True}}
        attempt = 0
        while True:
            try:
                return self.client.post("/chat/completions", body=body, cast_to=object, stream=True,
                                        stream_cls=openai.Stream[object], options=_AUTH)
            except openai.RateLimitError as exc:
                if exc.code == "insufficient_quota":
                    raise QuotaExhausted(f"the model provider's quota is exhausted: {exc.message}") from exc
                delay = retry_after_seconds(exc.response.headers) or backoff(attempt)
                last = f"rate limited (429): {exc.message}"
            except openai.APIStatusError as exc:
                if exc.status_code < 500:
                    raise ProviderRejected(f"the model provider refused the request: {exc.message}") from exc
                delay = retry_after_seconds(exc.response.headers) or backoff(attempt)
                last = f"server error ({exc.status_code}): {exc.message}"
            except openai.APITimeoutError:
                delay, last = backoff(attempt), "no response before the timeout"
            except openai.APIConnectionError as exc:
                delay, last = backoff(attempt), f"connection failed: {exc.__cause__ or exc}"
            attempt += 1
            elapsed = self.clock() - started
            if elapsed + delay > self.max_retry_wait:
                raise ProviderUnavailable(f"the model provider did not answer within {self.max_retry_wait:g}s "
                                          f"({attempt} tries); last: {last}")
            self.sleep(delay)

    def stream(self, messages: list[dict], *, max_tokens: int = 800) -> Iterator[Delta | Usage]:
        started = self.clock()
        response = self._open(messages, max_tokens, started)
        try:
            for chunk in response:
                if self.clock() - started > self.request_timeout:
                    raise ProviderTimeout(f"the reply took longer than {self.request_timeout:g}s")
                for choice in chunk.get("choices") or ():
                    text = (choice.get("delta") or {}).get("content")
                    if text:
                        yield Delta(text)
                usage = chunk.get("usage")
                if usage:
                    yield Usage(usage.get("prompt_tokens") or 0, usage.get("completion_tokens") or 0)
        except openai.APITimeoutError as exc:
            raise ProviderStalled("the model stream stalled: no chunk within the idle timeout") from exc
        except openai.APIConnectionError as exc:
            raise ProviderStalled(f"the model stream broke off: {exc.__cause__ or exc}") from exc
        except openai.APIError as exc:
            raise ProviderRejected(f"the model stream reported an error: {exc.message}") from exc
        finally:
            response.close()


_SENTENCE = re.compile(r"(?<=[.!?])\s+")


class LocalTutor:
    """Offline, extractive: the question's best-matching sentences from the retrieved passages."""

    name = "local"

    def __init__(self, hits: list[Hit], question: str, per_passage: int = 2):
        self.hits, self.question, self.per_passage = hits, question, per_passage

    def compose(self) -> str:
        wanted = set(terms(self.question))
        parts = []
        for n, hit in enumerate(self.hits[:3], start=1):
            body = hit.doc.text.removeprefix(hit.doc.lesson_title).strip()
            sentences = [s for s in _SENTENCE.split(" ".join(body.split())) if s.strip()]
            ranked = sorted(range(len(sentences)), key=lambda i: -len(wanted & set(terms(sentences[i]))))
            keep = sorted(ranked[: self.per_passage])
            excerpt = " ".join(sentences[i].strip() for i in keep)
            parts.append(f"{excerpt} [{n}]")
        lead = "Here is what the course says:"
        return f"{lead}\n\n" + "\n\n".join(parts)

    def stream(self, messages: list[dict], *, max_tokens: int = 800) -> Iterator[Delta | Usage]:
        text = self.compose()
        for word in re.findall(r"\S+\s*", text):
            yield Delta(word)
        prompt = sum(len(m.get("content", "")) for m in messages)
        yield Usage(estimate_tokens_chars(prompt), estimate_tokens_chars(len(text)))


def estimate_tokens_chars(chars: int) -> int:
    return max(1, (chars + 3) // 4)


def estimate_tokens(text: str) -> int:
    return estimate_tokens_chars(len(text))
