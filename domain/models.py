"""Imports every model module so ``Base.metadata`` knows all tables (Alembic, tests)."""
from __future__ import annotations

import importlib

from domain.core import models as core  # noqa: F401
from domain.jobs import models as jobs  # noqa: F401
from domain.jobs.kinds import FAMILIES


def load_all() -> None:
    for family in FAMILIES:
        name = f"domain.{family}.models"
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise


load_all()
