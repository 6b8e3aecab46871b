"""The real ``openai`` client against a local server speaking the chat-completions protocol."""
import time

import openai
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
    # Given a server that answers 429 with Retry-After: 1 once (the provider's sleep is recorded, not slept)
    slept = []
    # When a reply is asked for
    items = list(_provider(model_server, sleep=slept.append).stream(_ask("join? !429x1 #a")))
    # Then the provider waited exactly the Retry-After before its second, answered, request
    assert any(isinstance(i, Delta) for i in items)
    assert model_server.count("!429x1 #a") == 2
    assert slept == [1.0]


def test_5xx_is_retried_with_backoff(model_server):
    items = list(_provider(model_server).stream(_ask("join? !500x2 #b")))
    assert any(isinstance(i, Delta) for i in items)
    assert model_server.count("!500x2 #b") == 3


def test_insufficient_quota_fails_at_once(model_server):
    with pytest.raises(QuotaExhausted) as err:
        list(_provider(model_server).stream(_ask("join? !quota #c")))
    assert err.value.code == "insufficient_quota"
    assert model_server.count("!quota #c") == 1


class VirtualClock:
    """The provider's clock and sleep: a sleep moves the clock on at once and is recorded, on
    top of the real time the requests take."""

    def __init__(self):
        self.readings: list[float] = []         # the first is the provider's start
        self.slept: list[float] = []
        self.planned_ends: list[float] = []     # the clock reading at which each wait would end

    def clock(self) -> float:
        self.readings.append(time.monotonic() + sum(self.slept))
        return self.readings[-1]

    def waited_within(self, cap: float) -> bool:
        return all(end - self.readings[0] <= cap for end in self.planned_ends)

    def sleep(self, seconds: float) -> None:
        self.planned_ends.append(self.clock() + seconds)
        self.slept.append(seconds)


def test_retries_stop_at_the_total_wait_cap(model_server):
    # Given a server that always answers 429 with Retry-After: 1, and a cap of 2.5 s of waiting
    clock = VirtualClock()
    with pytest.raises(ProviderUnavailable) as err:
        list(_provider(model_server, max_retry_wait=2.5, clock=clock.clock, sleep=clock.sleep)
             .stream(_ask("join? !429x99 #d")))
    # Then it honoured Retry-After between tries, tried once more after each wait, and gave up
    # rather than start a wait that would end past the cap
    assert clock.slept and set(clock.slept) == {1.0}
    assert model_server.count("!429x99 #d") == len(clock.slept) + 1
    assert clock.waited_within(2.5), (clock.readings, clock.planned_ends)
    assert "429" in err.value.message and "2.5s" in err.value.message


def test_a_hung_connection_gives_up_within_the_cap(model_server):
    # Given a server that accepts the request and never answers, and a cap of 1.5 s
    clock = VirtualClock()
    with pytest.raises(ProviderUnavailable) as err:
        list(_provider(model_server, max_retry_wait=1.5, clock=clock.clock, sleep=clock.sleep)
             .stream(_ask("join? !hang #e")))
    # Then each try ended at the read timeout (the call returned at all), every try reached the
    # server, and no wait was started that would end past the cap
    assert model_server.count("!hang #e") == len(clock.slept) + 1
    assert clock.waited_within(1.5), (clock.readings, clock.planned_ends)
    assert "timeout" in err.value.message


def test_a_stream_that_stalls_midway_fails_at_the_idle_timeout(model_server):
    # Given a server that sends two chunks and then goes silent (the request timeout is 10 s)
    got = []
    # When the reply is read
    with pytest.raises(ProviderStalled) as err:
        for item in _provider(model_server).stream(_ask("join? !stall #f")):
            got.append(item)
    # Then what came before the stall was delivered, the read timeout between chunks (the idle
    # timeout) ended it rather than the request timeout, and a broken stream is not asked again
    assert len(got) == 2
    assert isinstance(err.value.__cause__, openai.APITimeoutError)
    assert model_server.count("!stall #f") == 1


def test_a_reply_longer_than_the_request_timeout_fails(model_server):
    model_server.chunk_delay = 0.2
    try:
        with pytest.raises(ProviderTimeout):
            list(_provider(model_server, request_timeout=0.5).stream(_ask("join? #g")))
    finally:
        model_server.chunk_delay = 0.0
