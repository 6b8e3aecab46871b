"""Open Badges 3.0 / W3C Verifiable Credential export of a certificate, with a Data Integrity
proof (cryptosuite ``eddsa-jcs-2022``: Ed25519 over the JCS forms of the proof options and
the credential). ``verify_credential`` needs only the public JWK."""
from __future__ import annotations

import hashlib

from domain.certificates.signing import SigningKey, canonical_json, public_key_from_jwk

CONTEXT = ["https://www.w3.org/ns/credentials/v2",
           "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"]
_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def b58encode(data: bytes) -> str:
    n = int.from_bytes(data, "big")
    out = ""
    while n:
        n, r = divmod(n, 58)
        out = _B58[r] + out
    return "1" * (len(data) - len(data.lstrip(b"\0"))) + out


def b58decode(text: str) -> bytes:
    n = 0
    for ch in text:
        n = n * 58 + _B58.index(ch)
    body = n.to_bytes((n.bit_length() + 7) // 8, "big") if n else b""
    return b"\0" * (len(text) - len(text.lstrip("1"))) + body


def build(record: dict, issuer_url: str) -> dict:
    """The unsigned OpenBadgeCredential for a signed certificate record (see ``records.build``)."""
    course = record["course"]
    achievement = {
        "id": f"{issuer_url}/courses/{course['id']}",
        "type": ["Achievement"],
        "name": course["title"],
        "description": f"Completion of the course {course['title']}",
        "criteria": {"narrative": "Completed every required lesson and passed the course grade."},
        "achievementType": "Certificate",
    }
    subject = {
        "type": ["AchievementSubject"],
        "identifier": [{"type": "IdentityObject", "identityType": "name", "hashed": False,
                        "identityHash": record["learner"]["name"]}],
        "achievement": achievement,
        "activityEndDate": record["completed_at"],
    }
    if record.get("grade"):
        subject["result"] = [{"type": ["Result"], "value": f"{record['grade']['percent']}%"}]
    return {
        "@context": CONTEXT,
        "id": record["verify_url"],
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "issuer": {"id": issuer_url, "type": ["Profile"], "name": record["issuer"]["name"]},
        "validFrom": record["issued_at"],
        "name": f"Certificate: {course['title']}",
        "credentialSubject": subject,
    }


def _hash_data(document: dict, proof_options: dict) -> bytes:
    unsecured = {k: v for k, v in document.items() if k != "proof"}
    options = {**proof_options, "@context": document["@context"]}
    options.pop("proofValue", None)
    return hashlib.sha256(canonical_json(options)).digest() + hashlib.sha256(canonical_json(unsecured)).digest()


def sign(document: dict, key: SigningKey, verification_method: str, created: str) -> dict:
    proof = {"type": "DataIntegrityProof", "cryptosuite": "eddsa-jcs-2022", "created": created,
             "verificationMethod": verification_method, "proofPurpose": "assertionMethod"}
    proof["proofValue"] = "z" + b58encode(key.sign_bytes(_hash_data(document, proof)))
    return {**document, "proof": proof}


def verify_credential(credential: dict, jwk: dict) -> bool:
    proof = credential.get("proof") or {}
    if proof.get("cryptosuite") != "eddsa-jcs-2022" or not str(proof.get("proofValue", "")).startswith("z"):
        return False
    try:
        signature = b58decode(proof["proofValue"][1:])
        public_key_from_jwk(jwk).verify(signature, _hash_data(credential, proof))
        return True
    except Exception:
        return False
