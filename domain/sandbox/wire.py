"""Talking to a sandbox's ``runner`` for one case: the stdin it reads, the output it writes (read
within a deadline and a budget), and its reply once every process of the case is gone."""
from __future__ import annotations

import os
import select
import selectors
import socket
import time
from typing import Callable

STDERR_KEEP = 64 * 1024
OOM_POLL = 0.05   # seconds between looks at the slot cgroup's OOM kill count


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def reply(ctl: socket.socket, deadline: float,
           oom_killed: Callable[[], bool] | None = None) -> tuple[list[bytes] | None, bool]:
    """runner's reply for the case, sent once every process of the case is gone; None: none by the
    deadline, or runner is gone. -> (reply, the kernel OOM-killed a process of the case meanwhile)"""
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return None, False
        if select.select([ctl], [], [], remaining if oom_killed is None else min(remaining, OOM_POLL))[0]:
            break
        if oom_killed is not None and oom_killed():
            return None, True
    try:
        data = ctl.recv(256)
    except OSError:   # runner died before it could read the request
        return None, False
    return data.split() or None, False


def collect(out_fd: int, err_fd: int, deadline: float, budget: int,
             oom_killed: Callable[[], bool] | None = None) -> tuple[bytes, bytes, bool, bool, bool]:
    """Read stdout/stderr until both close, the deadline passes, stdout exceeds its budget, or
    (``oom_killed``, polled every 50 ms) the kernel killed a process of the case for its memory:
    the verdict is then MLE whatever the rest does, so the case is not left to run on.
    -> (stdout, stderr tail, timed out, output exceeded, OOM kill)"""
    out, err = bytearray(), bytearray()
    timed_out = exceeded = oom = False
    sel = selectors.DefaultSelector()
    sel.register(out_fd, selectors.EVENT_READ, out)
    sel.register(err_fd, selectors.EVENT_READ, err)
    next_check = time.monotonic() + OOM_POLL
    try:
        while sel.get_map():
            now = time.monotonic()
            remaining = deadline - now
            if remaining <= 0:
                timed_out = True
                break
            if oom_killed is not None and now >= next_check:
                next_check = now + OOM_POLL
                if oom_killed():
                    oom = True
                    break
            wait = remaining if oom_killed is None else min(remaining, max(0.0, next_check - now))
            for key, _ in sel.select(wait):
                chunk = os.read(key.fd, 65536)
                if not chunk:
                    sel.unregister(key.fd)
                    continue
                buf = key.data
                buf += chunk
                if buf is out and len(out) > budget:
                    exceeded = True
                    del out[budget:]
                elif buf is err and len(err) > 2 * STDERR_KEEP:
                    del err[:-STDERR_KEEP]
            if exceeded:
                break
    finally:
        sel.close()
        os.close(out_fd)
        os.close(err_fd)
    return bytes(out), bytes(err[-STDERR_KEEP:]), timed_out, exceeded, oom
