"""The real ``openai`` client against a local server speaking the chat-completions protocol."""
import time

import pytest

from domain.tutor.providers import (Delta, OpenAIProvider, ProviderStalled, ProviderTimeout, ProviderUnavailable,
                                    QuotaExhausted, Usage)

SYSTEM = {"role": "system", "content": "Passages:\n[1] (Joins) A join combines rows from two tables by a key."}


def _provider(server, **kw):
    opts = dict(api_key="test-key", base_url=server.base_url, model="test-model", request_timeout=10.0,
                idle_timeout=0.5, max_retry_wait=4.0)
    opts.update(kw)
    return OpenAIProvider(**opts)


def _ask(text):
    return [SYSTEM, {"role": "user", "content": text}]


def test_streams_chunks_and_usage(model_server):
    items = list(_provider(model_server).stream(_ask("what is a join? #stream")))
    deltas = [i.text for i in items if isinstance(i, Delta)]
    assert len(deltas) > 5                      # many chunks, not one blob
    assert "".join(deltas).startswith("According to [1] (Joins), A join combines rows")
    assert items[-1] == Usage(prompt_tokens=50, completion_tokens=len(deltas))


def test_429_is_retried_after_retry_after(model_server):
    started = time.monotonic()
    items = list(_provider(model_server).stream(_ask("join? !429x1 #a")))
    elapsed = time.monotonic() - started
    assert any(isinstance(i, Delta) for i in items)
    assert model_server.count("!429x1 #a") == 2
    assert elapsed >= 1.0                       # waited Retry-After: 1


def test_5xx_is_retried_with_backoff(model_server):
    items = list(_provider(model_server).stream(_ask("join? !500x2 #b")))
    assert any(isinstance(i, Delta) for i in items)
    assert model_server.count("!500x2 #b") == 3


def test_insufficient_quota_fails_at_once(model_server):
    with pytest.raises(QuotaExhausted) as err:
        list(_provider(model_server).stream(_ask("join? !quota #c")))
    assert err.value.code == "insufficient_quota"
    assert model_server.count("!quota #c") == 1


def test_retries_stop_at_the_total_wait_cap(model_server):
    started = time.monotonic()
    with pytest.raises(ProviderUnavailable) as err:
        list(_provider(model_server, max_retry_wait=2.5).stream(_ask("join? !429x99 #d")))
    assert time.monotonic() - started < 2.5
    assert model_server.count("!429x99 #d") in (2, 3)
    assert "429" in err.value.message


def test_a_hung_connection_gives_up_within_the_cap(model_server):
    started = time.monotonic()
    with pytest.raises(ProviderUnavailable) as err:
        list(_provider(model_server, max_retry_wait=1.5).stream(_ask("join? !hang #e")))
    assert time.monotonic() - started < 4.0
    assert "timeout" in err.value.message


def test_a_stream_that_stalls_midway_fails_at_the_idle_timeout(model_server):
    got = []
    started = time.monotonic()
    with pytest.raises(ProviderStalled):
        for item in _provider(model_server).stream(_ask("join? !stall #f")):
            got.append(item)
    assert 0.4 < time.monotonic() - started < 3.0
    assert len(got) == 2                        # what came before the stall was delivered


def test_a_reply_longer_than_the_request_timeout_fails(model_server):
    model_server.chunk_delay = 0.2
    try:
        with pytest.raises(ProviderTimeout):
            list(_provider(model_server, request_timeout=0.5).stream(_ask("join? #g")))
    finally:
        model_server.chunk_delay = 0.0
