"""Job kinds of the certificates family, and the reaction that certifies on ``course.passed``."""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from domain.core.fields import id_field
from domain.jobs.errors import InvalidPayload
from domain.jobs.kinds import Enqueue, JobKind

CERT_PATTERN = r"^CW(-[0-9A-Z]{4}){4}$"


class CertifyPayload(BaseModel):
    """Issue (or return the existing) certificate of one learner for one course."""

    model_config = ConfigDict(extra="forbid")
    user_id: str = id_field(description="the learner", examples=["u-1"])
    course_id: str = id_field(description="the course", examples=["c-1"])


class CertifyCoursePayload(BaseModel):
    """Issue certificates to every eligible learner of a course, in chunks."""

    model_config = ConfigDict(extra="forbid")
    course_id: str = id_field(description="the course", examples=["c-1"])
    chunk_size: int | None = Field(default=None, ge=1, le=2000, description="learners per sub-job; default: the "
                                   "settings'", examples=[200])


class ReissuePayload(BaseModel):
    """Render a new version (the learner's current name) under the same id; the old file goes."""

    model_config = ConfigDict(extra="forbid")
    certificate_id: str = id_field(pattern=CERT_PATTERN, description="the certificate",
                                examples=["CW-7K2M-9QXD-4HNB-P3TW"])
    force: bool = Field(default=False, description="render again even if nothing changed", examples=[False])


def _check_course(session, course_id: str) -> None:
    from domain.core.models import Course

    if session.get(Course, course_id) is None:
        raise InvalidPayload("course_id", f"no course {course_id!r}")


def _check_certify(session, payload: CertifyPayload) -> None:
    from domain.core.models import User

    if session.get(User, payload.user_id) is None:
        raise InvalidPayload("user_id", f"no user {payload.user_id!r}")
    _check_course(session, payload.course_id)


def _check_certify_course(session, payload: CertifyCoursePayload) -> None:
    _check_course(session, payload.course_id)


def _check_reissue(session, payload: ReissuePayload) -> None:
    from domain.certificates.models import Certificate

    if session.get(Certificate, payload.certificate_id) is None:
        raise InvalidPayload("certificate_id", f"no certificate {payload.certificate_id!r}")


KINDS = [
    JobKind(name="certify", payload=CertifyPayload, task="tasks.certificates.certify", queue="certificates",
            max_attempts=5, validate=_check_certify,
            description="Issue one learner's course certificate (PDF + PNG, signed); returns the existing one "
                        "when already issued."),
    JobKind(name="certify_course", payload=CertifyCoursePayload, task="tasks.certificates.certify_course",
            queue="certificates", max_attempts=5, validate=_check_certify_course,
            description="Issue certificates to every eligible learner of a course, in chunks with progress."),
    JobKind(name="reissue_certificate", payload=ReissuePayload, task="tasks.certificates.reissue_certificate",
            queue="certificates", max_attempts=5, validate=_check_reissue,
            description="Re-render a certificate after a name change as a new version under the same id."),
]


def on_course_passed(data: dict) -> list[Enqueue]:
    user_id, course_id = data["user_id"], data["course_id"]
    return [Enqueue("certify", {"user_id": user_id, "course_id": course_id}, f"certify:{user_id}:{course_id}")]


REACTIONS = {"course.passed": on_course_passed}
