"""Certificates: public verification, the public key, the Open Badges 3.0 credential export,
and (with a key) lookup with presigned downloads and revocation."""
from __future__ import annotations

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from celeryconfig import STATE_DIR, settings
from domain.certificates import credential, keys, lifecycle, status_list
from domain.core.fields import text
from domain.certificates.models import Certificate
from domain.db import session_factory, unit_of_work, utcnow
from domain.storage import get_storage
from intake.auth import Caller, public, require
from intake.body import openapi_body, parse_json
from intake.errors import ApiError
from intake.schemas import F
from intake.openapi import answers
from intake.schemas.other import CertificateList, CertificateView, Credential, PublicKeys, Verification

router = APIRouter(tags=["certificates"])


ISSUER = "https://learn.example/v1/certificates/issuer"
STATUS = "https://learn.example/v1/certificates/status/0"


class ControllerDocument(BaseModel):
    """A W3C controller document: the issuer's keys as Multikey verification methods."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)
    id: str = F("the issuer's id: this document's URL", ISSUER)
    verificationMethod: list[dict[str, str]] = F(
        "every published key: id (issuer#kid), type Multikey, controller, publicKeyMultibase",
        [{"id": f"{ISSUER}#kid", "type": "Multikey", "controller": ISSUER, "publicKeyMultibase": "z6Mk..."}])
    assertionMethod: list[str] = F("the methods that may sign credentials", [f"{ISSUER}#kid"])


class StatusListCredential(BaseModel):
    """A W3C BitstringStatusListCredential (statusPurpose revocation) with a DataIntegrityProof."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)
    id: str = F("this list's URL", STATUS)
    type: list[str] = F("credential types", ["VerifiableCredential", "BitstringStatusListCredential"])
    credentialSubject: dict[str, str] = F("the list: encodedList is the GZIP-compressed bitstring, base64url, "
                                          "prefix u; bit statusListIndex set = revoked",
                                          {"type": "BitstringStatusList", "statusPurpose": "revocation"})
    proof: list[dict[str, str]] = F("the eddsa-jcs-2022 proof", [{"type": "DataIntegrityProof"}])
WELL_KNOWN = "/.well-known/coursework-certificates.json"


def key_ring() -> keys.KeyRing:
    return keys.from_settings(settings, STATE_DIR)


def _issuer_url() -> str:
    return settings.public_base_url.rstrip("/")


def _get(certificate_id: str) -> Certificate | None:
    if len(certificate_id) > 32:
        return None
    with session_factory(settings.database_url)() as s:
        return s.get(Certificate, certificate_id)


def _issued(certificate_id: str) -> Certificate:
    cert = _get(certificate_id)
    if cert is None or cert.status == "pending":
        raise ApiError(404, "not_found", f"no certificate {certificate_id!r}")
    return cert


@router.get(WELL_KNOWN, responses=answers(PublicKeys), summary="The certificate signing keys (JWK set) and how records are signed")
def public_keys(_limit: None = public("verify", "verify_rate_per_minute")):
    return {"issuer": {"name": "Coursework", "url": _issuer_url()},
            "keys": key_ring().jwks(),
            "signature": {"alg": "EdDSA", "canonicalization": "RFC 8785 (JSON Canonicalization Scheme)",
                          "signed": "the 'record' of GET /v1/certificates/{id}/verify"},
            "credential_proof": "DataIntegrityProof, cryptosuite eddsa-jcs-2022",
            "controller_document": credential.issuer_id(_issuer_url())}


@router.get("/v1/certificates/{certificate_id}/verify", responses=answers(Verification), summary="Verify a certificate (public, no key)")
def verify(certificate_id: str, _limit: None = public("verify", "verify_rate_per_minute")):
    cert = _get(certificate_id)
    body = lifecycle.verification(cert, certificate_id)
    body["public_keys"] = f"{_issuer_url()}{WELL_KNOWN}"
    if body["status"] != "unknown" and cert.status_index is not None:
        body["credential_status"] = status_list.entry(_issuer_url(), cert.status_list, cert.status_index)
    return body


@router.get("/v1/certificates/issuer", responses=answers(ControllerDocument),
            summary="The issuer's controller document: its Multikey verification methods (public)")
def issuer_document(_limit: None = public("verify", "verify_rate_per_minute")):
    issuer = credential.issuer_id(_issuer_url())
    return credential.controller_document(issuer, key_ring().multikeys(issuer))


@router.get("/v1/certificates/status/{number}", responses=answers(StatusListCredential, errors=(404,)),
            summary="A signed Bitstring Status List credential of revoked certificates (public)")
def status_list_credential(number: int = Path(ge=0, le=1_000_000, description="the list number (from statusListCredential)"),
                           _limit: None = public("verify", "verify_rate_per_minute")):
    def build() -> dict:
        with session_factory(settings.database_url)() as s:
            if number > 0 and s.scalar(select(Certificate.id).where(Certificate.status_list == number).limit(1)) is None:
                raise ApiError(404, "not_found", f"no status list {number}")
            revoked = list(s.scalars(select(Certificate.status_index).where(
                Certificate.status_list == number, Certificate.status == "revoked",
                Certificate.status_index.is_not(None))))
        base, key = _issuer_url(), key_ring().current
        issuer = credential.issuer_id(base)
        now = utcnow().replace(microsecond=0)
        doc = status_list.credential(base, issuer, number, revoked, credential.date_time(now))
        return credential.sign(doc, key, credential.verification_method(issuer, key.key_id), created=now)

    return JSONResponse(build(), headers={"Cache-Control": "no-cache"})


@router.get("/v1/certificates/{certificate_id}/credential", responses=answers(Credential, errors=(404, 410)),
            summary="Open Badges 3.0 / W3C Verifiable Credential of a certificate (public)")
def export_credential(certificate_id: str, _limit: None = public("verify", "verify_rate_per_minute")):
    cert = _issued(certificate_id)
    if cert.status == "revoked":
        raise ApiError(410, "revoked", f"certificate {cert.id} was revoked on "
                       f"{credential.date_time(cert.revoked_at)}: {cert.revoke_reason}",
                       [{"field": "certificate_id", "message": f"revoked: {cert.revoke_reason}"}])
    return certificate_credential(cert)


def certificate_credential(cert: Certificate) -> dict:
    """The signed OpenBadgeCredential of an issued certificate."""
    base, key = _issuer_url(), key_ring().current
    status = (status_list.entry(base, cert.status_list, cert.status_index)
              if cert.status_index is not None else None)
    doc = credential.certificate_credential(cert.record, base, cert.completed_at, status)
    issuer = credential.issuer_id(base)
    return credential.sign(doc, key, credential.verification_method(issuer, key.key_id),
                           created=cert.record["issued_at"])


def _with_links(cert: Certificate) -> dict:
    storage = get_storage()
    body = cert.to_dict()
    if cert.status != "pending":
        expires = settings.certificate_download_expires
        body["links"] = {"pdf": storage.presigned_get(cert.pdf_key, expires),
                         "png": storage.presigned_get(cert.png_key, expires),
                         "verify": f"/v1/certificates/{cert.id}/verify",
                         "credential": f"/v1/certificates/{cert.id}/credential"}
    return body


@router.get("/v1/certificates/{certificate_id}", responses=answers(CertificateView), summary="A certificate with presigned PDF/PNG downloads")
def get_certificate(certificate_id: str, caller: Caller = require("read")):
    return {"certificate": _with_links(_issued(certificate_id))}


@router.get("/v1/certificates", responses=answers(CertificateList), summary="Find certificates by learner and/or course")
def find_certificates(caller: Caller = require("read"), user_id: str | None = Query(default=None, max_length=32),
                      course_id: str | None = Query(default=None, max_length=32),
                      limit: int = Query(default=50, ge=1, le=200)):
    if not user_id and not course_id:
        raise ApiError(422, "validation_error", "give user_id, course_id or both",
                       [{"field": "user_id", "message": "user_id or course_id is required"}])
    stmt = select(Certificate).where(Certificate.status != "pending").order_by(Certificate.id).limit(limit)
    if user_id:
        stmt = stmt.where(Certificate.user_id == user_id)
    if course_id:
        stmt = stmt.where(Certificate.course_id == course_id)
    with session_factory(settings.database_url)() as s:
        return {"certificates": [_with_links(c) for c in s.scalars(stmt)]}


class RevokeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = text(1000, min_length=3, description="why (kept with the certificate and shown by verify)",
                       examples=["issued in error"])


@router.post("/v1/certificates/{certificate_id}/revoke", responses=answers(CertificateView), summary="Revoke a certificate (operators)",
             openapi_extra=openapi_body(RevokeRequest))
async def revoke(certificate_id: str, request: Request, caller: Caller = require("operate")):
    body = await parse_json(request, RevokeRequest)

    def _do() -> dict:
        _issued(certificate_id)
        with unit_of_work(settings.database_url) as s:
            return lifecycle.revoke(s, certificate_id, body.reason).to_dict()

    return {"certificate": await run_in_threadpool(_do)}
