"""``POST /v1/jobs`` as the OpenAPI document shows it: one variant per job kind, told apart by
``kind``, each carrying that kind's payload model (built from the kind registry)."""
from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, RootModel, create_model

from domain.jobs.kinds import JobKind, catalog
from intake.schemas import F

RUN_AT = ("when to publish the job (ISO 8601 with a time zone); omitted: now. Kept in the database "
          "until due.", "2026-01-05T18:00:00Z")


def _camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))


def _variant(kind: JobKind, suffix: str = "JobRequest", extra: dict | None = None) -> type[BaseModel]:
    required = any(f.is_required() for f in kind.payload.model_fields.values())
    payload_doc = f"the `{kind.name}` payload"
    payload = (kind.payload, F(payload_doc) if required else F(payload_doc + " (may be omitted: all fields "
                                                                "have defaults)", default_factory=dict))
    return create_model(
        f"{_camel(kind.name)}{suffix}",
        __config__=ConfigDict(extra="forbid", title=f"{_camel(kind.name)}{suffix}",
                              json_schema_extra={"description": kind.description or f"a {kind.name} job"}),
        kind=(Literal[kind.name], F("the job kind", kind.name)),
        payload=payload,
        run_at=(datetime | None, F(RUN_AT[0], RUN_AT[1], default=None)),
        **(extra or {}),
    )


@cache
def job_request() -> type[BaseModel]:
    """The discriminated union of every kind's request."""
    variants = tuple(_variant(k) for k in sorted(catalog().kinds.values(), key=lambda k: k.name))
    union = Annotated[Union[variants], Field(discriminator="kind")]  # type: ignore[valid-type]

    class JobRequest(RootModel[union]):  # type: ignore[valid-type]
        """A job to enqueue: ``kind`` picks the payload schema (see GET /v1/kinds for the same at runtime)."""

    return JobRequest


@cache
def batch_request() -> type[BaseModel]:
    """``POST /v1/jobs/batch``: the same union, each job with its own idempotency key."""
    key = (str | None, F("this job's Idempotency-Key (same rules as the header of POST /v1/jobs); the "
                         "clients make one per job", "enroll-42-u-7", default=None, max_length=200))
    variants = tuple(_variant(k, "BatchJob", {"idempotency_key": key})
                     for k in sorted(catalog().kinds.values(), key=lambda k: k.name))
    item = Annotated[Union[variants], Field(discriminator="kind")]  # type: ignore[valid-type]

    class BatchRequest(BaseModel):
        """Jobs to enqueue together (at most ``COURSEWORK_JOBS_BATCH_MAX``, 500 by default)."""

        model_config = ConfigDict(extra="forbid")
        jobs: list[item] = F("the jobs, each discriminated by its kind", min_length=1)  # type: ignore[valid-type]

    return BatchRequest
