"""Response models of the intake API: what each route answers, for the OpenAPI document and
the clients generated from it. Routes build their answers as dicts; ``tests`` check the live
answers against these models."""
from __future__ import annotations

from typing import Any

from pydantic import Field


def F(description: str, example: Any = ..., **kw) -> Any:
    """A field with its description and one example (``...``: none that would help)."""
    if example is not ...:
        kw["examples"] = [example]
    return Field(description=description, **kw)
