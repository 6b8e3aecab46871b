"""Tasks of the certificates family (queue ``certificates``): thin wrappers around the domain."""
from __future__ import annotations

from domain.certificates import bulk, lifecycle
from domain.certificates.issuing import Issuer
from celeryconfig import STATE_DIR
from domain.certificates import keys
from domain.jobs.errors import PermanentError
from workers.base import job_task


def issuer_for(ctx) -> Issuer:
    settings = ctx.settings
    return Issuer(uow=ctx.uow, storage=ctx.storage,
                  key=keys.from_settings(settings, STATE_DIR).current,
                  base_url=settings.public_base_url, page_size=settings.certificate_page_size,
                  png_dpi=settings.certificate_preview_dpi, threads=settings.certificate_render_threads,
                  emit=lambda session, name, data, user_id: ctx.emit(name, data, user_id=user_id, session=session))


@job_task("certify")
def certify(ctx, payload):
    [outcome] = issuer_for(ctx).issue_many(payload.course_id, [payload.user_id])
    if outcome.status == "not_eligible":
        raise PermanentError("the learner is not eligible for this course's certificate: "
                             + "; ".join(outcome.reasons), code="not_eligible",
                             details=[{"field": "user_id", "message": r} for r in outcome.reasons])
    if outcome.status == "unprintable":
        raise PermanentError("the certificate cannot be printed right: " + "; ".join(outcome.reasons),
                             code="unprintable", details=[{"field": "user_id", "message": r} for r in outcome.reasons])
    return {"certificate_id": outcome.certificate_id, "created": outcome.status == "issued",
            "user_id": payload.user_id, "course_id": payload.course_id}


@job_task("certify_course")
def certify_course(ctx, payload):
    return bulk.certify_course(issuer_for(ctx), payload.course_id,
                               payload.chunk_size or ctx.settings.certificate_chunk_size, control=ctx)


@job_task("reissue_certificate")
def reissue_certificate(ctx, payload):
    return lifecycle.reissue(issuer_for(ctx), payload.certificate_id, force=payload.force)
