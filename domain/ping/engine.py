"""What a ping does. Pure: the caller supplies the attempt and the run control (progress, cancel)."""
from __future__ import annotations

import os
import signal
import time

from domain.jobs.control import UNWATCHED, RunControl
from domain.jobs.errors import PermanentError, TransientError
from domain.ping.kinds import PingPayload


def run(payload: PingPayload, attempt: int, control: RunControl = UNWATCHED) -> dict:
    if payload.crash_worker:
        os.kill(os.getpid(), signal.SIGKILL)
    start = time.monotonic()
    deadline, reported = start + payload.sleep, 0
    while time.monotonic() < deadline:
        control.check_cancelled()
        time.sleep(min(0.05, max(0.0, deadline - time.monotonic())))
        slept = int(time.monotonic() - start)
        if slept > reported:      # about once a second
            reported = slept
            control.progress(100 * slept / payload.sleep, f"slept {slept} of {payload.sleep:g} s")
    control.check_cancelled()
    if payload.fail_permanent:
        raise PermanentError("ping asked to fail permanently", code="ping_failed")
    if attempt <= payload.fail_transient_times:
        raise TransientError(f"ping transient failure {attempt}/{payload.fail_transient_times}")
    return {"echo": payload.echo, "attempt": attempt, "pid": os.getpid()}
