"""Bulk issue for a course: every enrolled learner, in chunks, with progress. A rerun skips
learners who already hold a certificate (they count as ``existing``) and issues the rest.
A learner whose certificate cannot be printed right (``unprintable``: a name no font draws)
gets none; the job goes on with the others."""
from __future__ import annotations

from collections import Counter
from domain.certificates.issuing import Issuer
from domain.jobs.control import UNWATCHED, RunControl


def certify_course(issuer: Issuer, course_id: str, chunk_size: int, control: RunControl = UNWATCHED) -> dict:
    learners = issuer.learners(course_id)
    counts: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    for start in range(0, len(learners), chunk_size):
        control.check_cancelled()
        for outcome in issuer.issue_many(course_id, learners[start:start + chunk_size]):
            counts[outcome.status] += 1
            if outcome.status == "not_eligible":
                reasons.update(outcome.reasons)
        done = min(start + chunk_size, len(learners))
        control.progress(100.0 * done / len(learners), f"{done}/{len(learners)} learners")
    return {"course_id": course_id, "learners": len(learners), "issued": counts["issued"],
            "existing": counts["existing"], "not_eligible": counts["not_eligible"],
            "not_eligible_reasons": dict(reasons), "unprintable": counts["unprintable"]}
