"""The Celery app. Settings come from ``celeryconfig``; task modules from ``domain.registry``."""
from __future__ import annotations

from celery import Celery

from workers import kombu_fixes

kombu_fixes.install()      # a worker survives Redis restarts (see the module)

from domain.registry import TASK_MODULES  # noqa: E402  (one per family, from the registry)

app = Celery("coursework")
app.config_from_object("celeryconfig")
app.conf.include = TASK_MODULES

import workers.signals  # noqa: E402,F401  (per-process setup, logging context)
import workers.queue_control  # noqa: E402,F401  (paused queues, pause/resume commands)

from schedules.beat import beat_schedule  # noqa: E402

app.conf.beat_schedule = beat_schedule()
