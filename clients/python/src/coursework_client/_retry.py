"""When to retry a request, and how long to wait first."""
from __future__ import annotations

import random
from email.utils import parsedate_to_datetime
from datetime import datetime, timezone

import httpx

RETRY_STATUSES = frozenset({429, 502, 503, 504})


def retry_after(response: httpx.Response | None) -> float | None:
    """The Retry-After header in seconds (delta-seconds or an HTTP date), if there is one."""
    if response is None:
        return None
    value = response.headers.get("retry-after")
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


def backoff(attempt: int, base: float, cap: float) -> float:
    """Exponential backoff with full jitter (attempt 0 is the first retry)."""
    return random.uniform(0, min(cap, base * 2 ** attempt))


class Policy:
    """``max_retries`` retries of a request answered 429/502/503/504 or lost to a connection error;
    a Retry-After is honoured as given, unless it is longer than ``max_wait`` (then the error is
    raised, with ``retry_after`` set, for the caller to decide)."""

    def __init__(self, max_retries: int = 5, base: float = 0.5, cap: float = 30.0, max_wait: float = 120.0):
        self.max_retries, self.base, self.cap, self.max_wait = max_retries, base, cap, max_wait

    def delay(self, attempt: int, response: httpx.Response | None) -> float | None:
        """Seconds to wait before retry number ``attempt`` (0-based), or None: do not retry."""
        if attempt >= self.max_retries:
            return None
        if response is not None and response.status_code not in RETRY_STATUSES:
            return None
        told = retry_after(response)
        if told is not None:
            return told if told <= self.max_wait else None
        return backoff(attempt, self.base, self.cap)
