"""The job-kind registry: what intake accepts and which task and queue run it.

Each family declares its kinds in ``domain/<family>/kinds.py`` as ``KINDS = [JobKind(...)]``
and, optionally, ``REACTIONS = {"event.name": fn}`` where ``fn(data) -> list[Enqueue]`` says
which jobs an event starts (e.g. ``course.passed`` → ``certify``). ``catalog()`` gathers them.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any, Callable

from pydantic import BaseModel

from domain import registry

FAMILIES = tuple(registry.FAMILIES)      # the order kinds, reactions, routers and demo steps use


@dataclass(frozen=True)
class JobKind:
    name: str                    # wire name, e.g. "transcode"
    payload: type[BaseModel]     # pydantic model validated at intake and again in the worker
    task: str                    # Celery task name, e.g. "tasks.video.transcode"
    queue: str                   # Kombu queue
    max_attempts: int = 5
    # optional check against the database at intake: fn(session, payload) raising InvalidPayload
    validate: Callable[[Any, BaseModel], None] | None = None
    # scope the caller needs beyond "enqueue" (e.g. "operate" for admin-only kinds)
    extra_scope: str | None = None
    # scope a particular payload needs (e.g. the ping drills need "operate"): fn(payload) -> scope or None
    payload_scope: Callable[[BaseModel], str | None] | None = None
    description: str = ""
    # called in the transition's transaction when a job of this kind ends without success
    # (cancelled, failed, dead-lettered), whoever ends it (worker, API, reaper): fn(session, job, state)
    on_end: Callable[[Any, Any, str], None] | None = None


@dataclass(frozen=True)
class Enqueue:
    """A request to start a job, produced by a reaction to an event."""

    kind: str
    payload: dict
    idempotency_key: str | None = None
    parent_id: str | None = None


@dataclass
class Catalog:
    kinds: dict[str, JobKind] = field(default_factory=dict)
    reactions: dict[str, list[Callable[[dict], list[Enqueue]]]] = field(default_factory=dict)

    def get(self, name: str) -> JobKind | None:
        return self.kinds.get(name)


_catalog: Catalog | None = None


def catalog() -> Catalog:
    global _catalog
    if _catalog is None:
        cat = Catalog()
        for family in FAMILIES:
            module = importlib.import_module(f"domain.{family}.kinds")
            for kind in getattr(module, "KINDS", []):
                if kind.name in cat.kinds:
                    raise RuntimeError(f"job kind {kind.name!r} declared twice")
                cat.kinds[kind.name] = kind
            for event, fn in getattr(module, "REACTIONS", {}).items():
                cat.reactions.setdefault(event, []).append(fn)
        _catalog = cat
    return _catalog
