"""The one registry of job families. Queues, routes, task modules, API routers, CLI
subcommands, beat entries, the demo's steps and the test stack are all derived from it, so
adding a family is its own folder pair, its migration, its docs page and one line here.

Imports nothing (``celeryconfig`` reads it before anything else is set up).
"""
from __future__ import annotations

from dataclasses import dataclass

CONTROL_QUEUE = "maintenance"          # relay sweep, reaper, clean-ups, ping


@dataclass(frozen=True)
class Family:
    queue: str                   # the Kombu queue its jobs (and ``tasks.<family>.*`` tasks) go to
    cpu_heavy: bool = False      # prefork workers, one process per core


FAMILIES: dict[str, Family] = {
    "ping": Family(CONTROL_QUEUE),
    "video": Family("video", cpu_heavy=True),
    "sandbox": Family("sandbox", cpu_heavy=True),
    "grading": Family("grading"),
    "certificates": Family("certificates", cpu_heavy=True),
    "notifications": Family("notifications"),
    "tutor": Family("tutor"),
    "analytics": Family("analytics"),
    "achievements": Family("analytics"),          # event-driven database work beside the rollups
}


def _unique(items) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


FAMILY_QUEUES = _unique(f.queue for f in FAMILIES.values() if f.queue != CONTROL_QUEUE)
ALL_QUEUES = (*FAMILY_QUEUES, CONTROL_QUEUE)
CPU_HEAVY_QUEUES = _unique(f.queue for f in FAMILIES.values() if f.cpu_heavy)
# tasks are named tasks.<module>.<name>; the module is the family (or maintenance)
ROUTES = {**{name: f.queue for name, f in FAMILIES.items()}, "maintenance": CONTROL_QUEUE}
TASK_MODULES = ["tasks.maintenance", *(f"tasks.{name}" for name in FAMILIES)]
