"""The signed certificate record, the printed view, and the deterministic storage keys."""
from __future__ import annotations

from domain.certificates.models import Certificate
from domain.certificates.render import CertificateView

ISSUER_NAME = "Coursework"


def verify_url(base_url: str, certificate_id: str) -> str:
    return f"{base_url.rstrip('/')}/v1/certificates/{certificate_id}/verify"


def storage_keys(certificate_id: str, version: int) -> tuple[str, str]:
    """``certificates/<id>/v<version>.pdf`` and ``.png``: a rerun overwrites, a reissue adds a version."""
    stem = f"certificates/{certificate_id}/v{version}"
    return f"{stem}.pdf", f"{stem}.png"


def grade_text(cert: Certificate) -> str | None:
    if cert.grade_percent is None:
        return None
    pct = f"{cert.grade_percent:.2f}".rstrip("0").rstrip(".")
    return f"{pct}% ({cert.grade_letter})" if cert.grade_letter else f"{pct}%"


def build(cert: Certificate, base_url: str) -> dict:
    """The document that is signed: what a verifier needs, nothing private (no email, no user id)."""
    return {
        "type": "CourseworkCertificate",
        "id": cert.id,
        "version": cert.version,
        "learner": {"name": cert.learner_name},
        "course": {"id": cert.course_id, "title": cert.course_title},
        "instructor": cert.instructor_name,
        "completed_at": cert.completed_at.date().isoformat(),
        "issued_at": cert.issued_at.isoformat(timespec="seconds"),
        "grade": ({"percent": cert.grade_percent, "letter": cert.grade_letter}
                  if cert.grade_percent is not None else None),
        "issuer": {"name": ISSUER_NAME, "url": base_url.rstrip("/")},
        "verify_url": verify_url(base_url, cert.id),
    }


def view(cert: Certificate, base_url: str) -> CertificateView:
    return CertificateView(certificate_id=cert.id, learner_name=cert.learner_name,
                           course_title=cert.course_title, instructor_name=cert.instructor_name,
                           completed_on=cert.completed_at.date().isoformat(),
                           verify_url=verify_url(base_url, cert.id), grade_text=grade_text(cert),
                           issuer_name=ISSUER_NAME)
