"""The default slot count: the cores this worker may use."""
from __future__ import annotations

import os

from domain.sandbox import slots
from domain.sandbox.judge import JudgeConfig


def test_the_default_slot_count_is_the_usable_cores(monkeypatch):
    assert JudgeConfig().slots == 0   # the default: follow the cores
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3})
    monkeypatch.setattr(slots, "_quota_cores", lambda: None)
    assert JudgeConfig().slot_count == 4
    # a CPU quota of 2.5 cores (a container's --cpus) caps it
    monkeypatch.setattr(slots, "_quota_cores", lambda: 2.5)
    assert JudgeConfig().slot_count == 2
    # an explicit count wins
    assert JudgeConfig(slots=7).slot_count == 7
