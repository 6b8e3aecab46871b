"""Celery app, the base job task, event publishing, logging and per-process setup."""
