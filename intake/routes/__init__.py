"""Routers of the intake API. Each family may own ``intake/routes/<family>.py`` with ``router``
(found through ``domain.registry``)."""
from __future__ import annotations

import importlib
import importlib.util

from domain.registry import FAMILIES  # noqa: E402

# the platform's own routers around the families' (a family without extra endpoints has none)
FIRST, LAST = ["health", "batch", "jobs", "files"], ["ops", "webhooks"]
MODULES = [*FIRST, *(f for f in FAMILIES if importlib.util.find_spec(f"intake.routes.{f}") is not None), *LAST]


def routers():
    for name in MODULES:
        yield importlib.import_module(f"intake.routes.{name}").router
