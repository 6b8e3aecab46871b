from celeryconfig import settings
from workers.base import backoff_delay


def test_backoff_grows_with_jitter_and_is_capped():
    # full jitter: each delay lies in [0, min(cap, 2**retries)]
    for retries in range(0, 12):
        for _ in range(50):
            d = backoff_delay(retries)
            assert 0 <= d <= min(settings.retry_backoff_max, 2 ** retries)
    samples = {backoff_delay(8) for _ in range(50)}
    assert len(samples) > 1, "no jitter"


def test_retry_after_is_honoured_but_capped():
    assert backoff_delay(0, retry_after=1.5) >= 1.5
    assert backoff_delay(0, retry_after=10_000) <= settings.retry_backoff_max
