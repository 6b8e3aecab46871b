"""Routers of the intake API. Each family owns ``intake/routes/<family>.py`` with ``router``."""
from __future__ import annotations

import importlib

MODULES = ["health", "batch", "jobs", "files", "video", "sandbox", "grading", "certificates", "notifications",
           "tutor", "analytics", "achievements", "ops", "webhooks"]


def routers():
    for name in MODULES:
        yield importlib.import_module(f"intake.routes.{name}").router
