"""``POST /v1/jobs/batch``: one outcome per job."""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from intake.openapi import ErrorBody
from intake.schemas import F
from intake.schemas.jobs import Job


class BatchItem(BaseModel):
    index: int = F("the job's position in the request", 0)
    status: Literal[202, 403, 409, 422] = F("the status this job would have had alone", 202)
    outcome: Literal["created", "replayed", "conflict", "invalid", "forbidden"] = F(
        "created; replayed (its idempotency_key was seen with the same request: that job); conflict (seen "
        "with another request); invalid; forbidden (its kind needs another scope)", "created")
    job: Job | None = F("the job (without its payload), when created or replayed", None)
    error: ErrorBody | None = F("why it was refused, otherwise null", None)


class BatchAccepted(BaseModel):
    """One outcome per job, in the request's order."""

    items: list[BatchItem] = F("one per job, in order")
    created: int = F("jobs created", 498)
    replayed: int = F("jobs that already existed under their idempotency_key", 1)
    failed: int = F("jobs refused (409, 422, 403)", 1)
