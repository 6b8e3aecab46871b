"""Structured logging (structlog) for workers, intake and the CLI."""
from __future__ import annotations

import logging
import sys

import structlog

from celeryconfig import settings
from domain.core import redact

_configured = False


def configure(level: str = "INFO", json: bool = False) -> None:
    global _configured
    if _configured:
        return
    _configured = True
    processors = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer = structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    structlog.configure(
        processors=[*processors, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    formatter = structlog.stdlib.ProcessorFormatter(processor=renderer, foreign_pre_chain=processors)
    handler.setFormatter(redact.RedactingFormatter(formatter, redact.secret_values(settings)))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


def get(name: str):
    return structlog.get_logger(name)
