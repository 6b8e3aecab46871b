"""One beat table. Entries are named after what they do and point at the feature's task.

Each task takes a bounded batch of rows that still need work, so a missed or doubled run
is harmless. Families append their entries in ``schedules/<family>.py`` (``ENTRIES``).
"""
from __future__ import annotations

import importlib

from celery.schedules import crontab

from domain.jobs.kinds import FAMILIES

CORE = {
    "relay-outbox-and-reap-stuck-jobs": {"task": "tasks.maintenance.relay_outbox", "schedule": 5.0},
    "purge-old-finished-jobs": {"task": "tasks.maintenance.purge_old_jobs", "schedule": crontab(minute=17)},
}


def beat_schedule() -> dict:
    table = dict(CORE)
    for family in FAMILIES:
        try:
            module = importlib.import_module(f"schedules.{family}")
        except ModuleNotFoundError:
            continue
        for name, entry in getattr(module, "ENTRIES", {}).items():
            if name in table:
                raise RuntimeError(f"beat entry {name!r} declared twice")
            table[name] = entry
    return table
