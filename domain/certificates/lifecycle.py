"""After issue: revoke with a reason, reissue a new version after a name change, and what
the public verification answers."""
from __future__ import annotations

from sqlalchemy.orm import Session

from domain.certificates import records, render
from domain.certificates.issuing import Issuer
from domain.certificates.models import Certificate
from domain.core.models import User
from domain.db import utcnow
from domain.jobs.errors import InvalidPayload, PermanentError


def revoke(session: Session, certificate_id: str, reason: str) -> Certificate:
    """Mark revoked (idempotent: a second call keeps the first reason and time)."""
    cert = session.get(Certificate, certificate_id, with_for_update=True)
    if cert is None:
        raise InvalidPayload("certificate_id", f"no certificate {certificate_id!r}")
    if cert.status != "revoked":
        cert.status = "revoked"
        cert.revoked_at = utcnow()
        cert.revoke_reason = reason
    return cert


def reissue(issuer: Issuer, certificate_id: str, force: bool = False) -> dict:
    """Render the learner's current name as version n+1 under the same id; delete version n.

    Without ``force`` nothing happens when the name did not change (a rerun is a no-op)."""
    with issuer.uow() as s:
        cert = s.get(Certificate, certificate_id)
        if cert is None:
            raise InvalidPayload("certificate_id", f"no certificate {certificate_id!r}")
        if cert.status == "revoked":
            raise PermanentError("a revoked certificate cannot be reissued", code="revoked")
        if cert.status != "issued":
            raise PermanentError("the certificate is not issued yet", code="not_issued")
        name = s.get(User, cert.user_id).name
        if name == cert.learner_name and not force:
            return {"certificate_id": cert.id, "version": cert.version, "reissued": False}
        old_version = cert.version
        s.expunge(cert)
    cert.learner_name = name
    cert.version = old_version + 1
    page_size = _page_size(issuer, cert.course_id)
    try:
        issuer._store_files(cert, page_size)
    except render.Unprintable as exc:    # the issued version stays as it is
        raise PermanentError(f"the new version cannot be printed right: {exc}", code="unprintable") from None
    with issuer.uow() as s:
        row = s.get(Certificate, certificate_id, with_for_update=True)
        if row.version != old_version or row.status != "issued":
            return {"certificate_id": row.id, "version": row.version, "reissued": False}
        row.learner_name, row.version = name, old_version + 1
        row.pdf_key, row.png_key = records.storage_keys(row.id, row.version)
        issuer._sign(row)
    # the old version's files stop existing: its presigned links and downloads fail from now on
    issuer.storage.delete_prefix(f"certificates/{certificate_id}/v{old_version}.")
    return {"certificate_id": certificate_id, "version": old_version + 1, "reissued": True}


def _page_size(issuer: Issuer, course_id: str) -> str:
    from domain.certificates.issuing import load_rule

    with issuer.uow() as s:
        return load_rule(s, course_id).page_size or issuer.page_size


def verification(cert: Certificate | None, certificate_id: str) -> dict:
    """What ``GET /v1/certificates/{id}/verify`` answers: valid, revoked or unknown."""
    if cert is None or cert.status == "pending":
        return {"status": "unknown", "certificate_id": certificate_id}
    body = {
        "status": "revoked" if cert.status == "revoked" else "valid",
        "certificate_id": cert.id,
        "version": cert.version,
        "learner_name": cert.learner_name,
        "course": {"id": cert.course_id, "title": cert.course_title},
        "completed_at": cert.completed_at.date().isoformat(),
        "issued_at": cert.issued_at.isoformat() if cert.issued_at else None,
        "record": cert.record,
        "signature": {"alg": "EdDSA", "crv": "Ed25519", "key_id": cert.key_id, "value": cert.signature,
                      "canonicalization": "RFC 8785"},
    }
    if cert.status == "revoked":
        body["revoked_at"] = cert.revoked_at.isoformat() if cert.revoked_at else None
        body["revoke_reason"] = cert.revoke_reason
    return body
