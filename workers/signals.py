"""Per-process setup: logging, event publishing, fresh connections after fork."""
from __future__ import annotations

from celery import signals

from celeryconfig import settings


@signals.setup_logging.connect
def _setup_logging(**_kw):
    from workers import logs

    logs.configure(settings.log_level, settings.log_json)


@signals.worker_process_init.connect
def _process_init(**_kw):
    from workers import events

    events.reset_client()          # never share a Redis socket across fork
    events.install()


@signals.worker_init.connect
def _worker_init(**_kw):
    from domain.core import production
    from workers import events

    production.refuse_to_start(settings, "worker")   # also when started as `celery -A workers.app worker`
    events.install()


@signals.beat_init.connect
def _beat_init(**_kw):
    from domain.core import production

    production.refuse_to_start(settings, "beat")
