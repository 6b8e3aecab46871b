"""What a ping does. Pure: the caller supplies the clock, the cancel check and the attempt."""
from __future__ import annotations

import os
import signal
import time
from typing import Callable

from domain.jobs.errors import JobCancelled, PermanentError, TransientError
from domain.ping.kinds import PingPayload


def run(payload: PingPayload, attempt: int, cancelled: Callable[[], bool],
        progress: Callable[[float, str], None] | None = None) -> dict:
    if payload.crash_worker:
        os.kill(os.getpid(), signal.SIGKILL)
    start = time.monotonic()
    deadline, reported = start + payload.sleep, 0
    while time.monotonic() < deadline and not cancelled():
        time.sleep(min(0.05, max(0.0, deadline - time.monotonic())))
        slept = int(time.monotonic() - start)
        if progress is not None and slept > reported:      # about once a second
            reported = slept
            progress(100 * slept / payload.sleep, f"slept {slept} of {payload.sleep:g} s")
    if cancelled():
        raise JobCancelled("ping cancelled while sleeping")
    if payload.fail_permanent:
        raise PermanentError("ping asked to fail permanently", code="ping_failed")
    if attempt <= payload.fail_transient_times:
        raise TransientError(f"ping transient failure {attempt}/{payload.fail_transient_times}")
    return {"echo": payload.echo, "attempt": attempt, "pid": os.getpid()}
