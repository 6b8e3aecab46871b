"""The box sweep: boxes whose slot nobody holds go, the box a slot's holder uses stays."""
from __future__ import annotations

import fcntl
import os
import time

from domain.sandbox import slots, sweep


def _box(work, slot: int, name: str, age: float = 0.0) -> str:
    path = work / f"{sweep.box_name(slot)}{name}"
    path.mkdir()
    (path / "main.py").write_text("print(1)\n")
    when = time.time() - age
    os.utime(path, (when, when))
    return path.name


def _hold(work, slot: int, box: str) -> int:
    (work / "slots").mkdir(exist_ok=True)
    lock = work / "slots" / f"slot-{slot}.lock"
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    slots.mark(slots.Slot(number=slot, uid=None, lock=lock), box)
    return fd


def test_a_box_whose_slot_nobody_holds_is_swept(tmp_path):
    left = _box(tmp_path, 0, "left")
    (tmp_path / "slots").mkdir()
    (tmp_path / "slots" / "slot-0.lock").write_text(left)   # its holder died: the lock is free
    assert sweep.sweep_boxes(tmp_path, older_than=3600) == [left]
    assert not (tmp_path / left).exists()


def test_the_box_in_use_stays_and_an_old_one_of_the_same_slot_goes(tmp_path):
    current = _box(tmp_path, 1, "current", age=7200)
    old = _box(tmp_path, 1, "old", age=7200)
    young = _box(tmp_path, 1, "young")
    fd = _hold(tmp_path, 1, current)
    try:
        removed = sweep.sweep_boxes(tmp_path, older_than=3600)
    finally:
        os.close(fd)
    assert removed == [old]
    assert (tmp_path / current).exists() and (tmp_path / young).exists()


def test_other_folders_are_left_alone(tmp_path):
    (tmp_path / "bin").mkdir()
    (tmp_path / "slots").mkdir()
    assert sweep.sweep_boxes(tmp_path, older_than=0) == []
    assert (tmp_path / "bin").exists()
