"""Open Badges 3.0 ``AchievementCredential`` / W3C Verifiable Credential 2.0 with a Data
Integrity proof (cryptosuite ``eddsa-jcs-2022``: Ed25519 over SHA-256 of the RFC 8785 form of
the proof options followed by SHA-256 of the RFC 8785 form of the credential without its proof).

The issuer is a URL that serves a controller document (W3C Controlled Identifiers): its
``Multikey`` verification methods ``<issuer>#<kid>`` are the certificate keys, listed under
``assertionMethod``. ``achievement_credential`` + ``sign`` work for any achievement, not only
course certificates; ``verify_credential`` needs only the public key.
"""
from __future__ import annotations

import hashlib
from datetime import datetime, timezone

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from domain.certificates.signing import (SigningKey, b58decode, b58encode, canonical_json,
                                         public_key_from_jwk)

CONTEXT = ["https://www.w3.org/ns/credentials/v2",
           "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"]
CID_CONTEXT = ["https://www.w3.org/ns/cid/v1"]
TYPES = ["VerifiableCredential", "OpenBadgeCredential"]


def issuer_id(base_url: str) -> str:
    """The issuer's id: the URL of its controller document."""
    return f"{base_url.rstrip('/')}/v1/certificates/issuer"


def verification_method(issuer: str, kid: str) -> str:
    return f"{issuer}#{kid}"


def issuer_profile(base_url: str, name: str) -> dict:
    return {"id": issuer_id(base_url), "type": ["Profile"], "name": name, "url": base_url.rstrip("/")}


def controller_document(issuer: str, multikeys: list[dict]) -> dict:
    """What ``issuer`` serves: every published key as a Multikey, each usable for assertions."""
    return {"@context": CID_CONTEXT, "id": issuer, "verificationMethod": multikeys,
            "assertionMethod": [m["id"] for m in multikeys]}


def date_time(value: datetime | str) -> str:
    """An XML Schema dateTimeStamp (always with a zone), as the schema's ``date-time`` needs."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.replace(microsecond=0).isoformat()


def achievement_credential(*, credential_id: str, issuer: dict, achievement: dict, valid_from: datetime | str,
                           name: str, subject: dict | None = None, awarded: datetime | str | None = None,
                           status: dict | None = None) -> dict:
    """An unsigned OpenBadgeCredential. ``achievement`` needs ``id``, ``name``, ``description`` and
    ``criteria`` (``{"narrative": ...}``); ``subject`` holds the AchievementSubject's other fields
    (``identifier``, ``result``, ``activityEndDate`` ...); ``status`` a ``credentialStatus``."""
    doc = {
        "@context": CONTEXT,
        "id": credential_id,
        "type": TYPES,
        "issuer": issuer,
        "validFrom": date_time(valid_from),
        "name": name,
        "credentialSubject": {"type": ["AchievementSubject"], **(subject or {}),
                              "achievement": {"type": ["Achievement"], **achievement}},
    }
    if awarded is not None:
        doc["awardedDate"] = date_time(awarded)
    if status is not None:
        doc["credentialStatus"] = status
    return doc


def _hash_data(document: dict, proof_options: dict) -> bytes:
    unsecured = {k: v for k, v in document.items() if k != "proof"}
    options = {k: v for k, v in proof_options.items() if k != "proofValue"}
    options["@context"] = document["@context"]
    return hashlib.sha256(canonical_json(options)).digest() + hashlib.sha256(canonical_json(unsecured)).digest()


def sign(document: dict, key: SigningKey, method: str, created: datetime | str) -> dict:
    """The document with a ``proof`` (a one-item list, as the OB 3.0 schema wants)."""
    proof = {"type": "DataIntegrityProof", "cryptosuite": "eddsa-jcs-2022", "created": date_time(created),
             "verificationMethod": method, "proofPurpose": "assertionMethod"}
    proof["proofValue"] = "z" + b58encode(key.sign_bytes(_hash_data(document, proof)))
    return {**document, "proof": [proof]}


def verify_credential(credential: dict, public: Ed25519PublicKey | dict) -> bool:
    """True when the credential's (single) eddsa-jcs-2022 proof was made by ``public`` (a key or JWK)."""
    proofs = credential.get("proof")
    proofs = proofs if isinstance(proofs, list) else [proofs]
    if len(proofs) != 1 or not isinstance(proofs[0], dict):
        return False
    proof = proofs[0]
    if proof.get("cryptosuite") != "eddsa-jcs-2022" or not str(proof.get("proofValue", "")).startswith("z"):
        return False
    try:
        key = public_key_from_jwk(public) if isinstance(public, dict) else public
        key.verify(b58decode(proof["proofValue"][1:]), _hash_data(credential, proof))
        return True
    except Exception:
        return False


def certificate_credential(record: dict, base_url: str, completed_at: datetime, status: dict | None) -> dict:
    """The unsigned OpenBadgeCredential of a signed certificate record (``records.build``)."""
    course = record["course"]
    subject: dict = {
        "identifier": [{"type": "IdentityObject", "identityType": "name", "hashed": False,
                        "identityHash": record["learner"]["name"]}],
        "activityEndDate": date_time(completed_at),
    }
    if record.get("grade"):
        subject["result"] = [{"type": ["Result"], "value": f"{record['grade']['percent']}%", "status": "Completed"}]
    achievement = {
        "id": f"{base_url.rstrip('/')}/courses/{course['id']}",
        "name": course["title"],
        "description": f"Completion of the course {course['title']}",
        "criteria": {"narrative": "Completed every required lesson and passed the course grade."},
        "achievementType": "Certificate",
    }
    return achievement_credential(credential_id=record["verify_url"], issuer=issuer_profile(base_url,
                                  record["issuer"]["name"]), achievement=achievement,
                                  valid_from=record["issued_at"], awarded=record["issued_at"],
                                  name=f"Certificate: {course['title']}", subject=subject, status=status)
