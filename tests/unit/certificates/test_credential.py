"""Open Badges 3.0 export checked against the official 1EdTech schema, its proof checked by an
eddsa-jcs-2022 verifier written here from the W3C specification, and the status list decoded
by hand (gzip + base64url), not by the module that wrote it."""
import base64
import copy
import gzip
import hashlib
from datetime import datetime, timezone

import pytest
import rfc8785
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from domain.certificates import credential, keys, status_list
from domain.certificates.signing import SigningKey
from tests.support.specs import ob3_errors

BASE = "https://learn.example.org"
RECORD = {"type": "CourseworkCertificate", "id": "CW-AAAA-BBBB-CCCC-DDDD", "version": 1,
          "learner": {"name": "مُحَمَّد عَلِيّ"}, "course": {"id": "c1", "title": "Algorithms"},
          "instructor": "Ada", "completed_at": "2026-11-24", "issued_at": "2026-11-24T10:00:00+00:00",
          "grade": {"percent": 85.0, "letter": "B"}, "issuer": {"name": "Coursework", "url": BASE},
          "verify_url": f"{BASE}/v1/certificates/CW-AAAA-BBBB-CCCC-DDDD/verify"}
COMPLETED = datetime(2026, 11, 20, 15, 30, tzinfo=timezone.utc)
B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def base58btc(text: str) -> bytes:
    n = 0
    for ch in text:
        n = n * 58 + B58.index(ch)
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return b"\0" * (len(text) - len(text.lstrip("1"))) + raw


def outsider_verifies(document: dict, multikey: dict) -> bool:
    """eddsa-jcs-2022 verification (W3C Data Integrity EdDSA Cryptosuites v1.0, section 3.3),
    from the specification: proof config = proof without proofValue, with the document's
    @context; hash = SHA-256(JCS(proof config)) + SHA-256(JCS(document without proof))."""
    [proof] = document["proof"]
    assert proof["type"] == "DataIntegrityProof" and proof["cryptosuite"] == "eddsa-jcs-2022"
    assert proof["verificationMethod"] == multikey["id"] and proof["proofPurpose"] == "assertionMethod"
    config = {k: v for k, v in proof.items() if k != "proofValue"}
    config["@context"] = document["@context"]
    unsecured = {k: v for k, v in document.items() if k != "proof"}
    data = hashlib.sha256(rfc8785.dumps(config)).digest() + hashlib.sha256(rfc8785.dumps(unsecured)).digest()
    assert multikey["type"] == "Multikey" and multikey["publicKeyMultibase"].startswith("z")
    raw = base58btc(multikey["publicKeyMultibase"][1:])
    assert raw[:2] == b"\xed\x01" and len(raw) == 34              # multicodec ed25519-pub
    try:
        Ed25519PublicKey.from_public_bytes(raw[2:]).verify(base58btc(proof["proofValue"][1:]), data)
        return True
    except InvalidSignature:
        return False


def signed(doc: dict, key: SigningKey, created="2026-11-24T10:00:00+00:00") -> dict:
    issuer = credential.issuer_id(BASE)
    return credential.sign(doc, key, credential.verification_method(issuer, key.key_id), created)


def multikey_of(key: SigningKey) -> dict:
    issuer = credential.issuer_id(BASE)
    doc = credential.controller_document(issuer, keys.KeyRing(key).multikeys(issuer))
    assert doc["assertionMethod"] == [m["id"] for m in doc["verificationMethod"]]
    [method] = doc["verificationMethod"]
    assert method["controller"] == doc["id"] == issuer
    return method


def test_certificate_credential_is_valid_against_the_official_ob3_schema_and_verifies():
    key = SigningKey.generate()
    status = status_list.entry(BASE, 0, 4242)
    vc = signed(credential.certificate_credential(RECORD, BASE, COMPLETED, status), key)
    assert ob3_errors(vc) == []
    assert vc["type"] == ["VerifiableCredential", "OpenBadgeCredential"]
    assert vc["credentialSubject"]["activityEndDate"] == "2026-11-20T15:30:00+00:00"
    assert vc["credentialSubject"]["identifier"][0]["identityHash"] == "مُحَمَّد عَلِيّ"
    assert vc["credentialStatus"] == {"id": f"{BASE}/v1/certificates/status/0#4242",
                                      "type": "BitstringStatusListEntry", "statusPurpose": "revocation",
                                      "statusListIndex": "4242",
                                      "statusListCredential": f"{BASE}/v1/certificates/status/0"}
    assert outsider_verifies(vc, multikey_of(key))
    assert credential.verify_credential(vc, key.jwk()) and credential.verify_credential(vc, key.public)
    # tampering with any field, the status entry included, breaks the proof
    for path in (("credentialSubject", "identifier", 0, "identityHash"), ("credentialStatus", "statusListIndex")):
        bad = copy.deepcopy(vc)
        target = bad
        for step in path[:-1]:
            target = target[step]
        target[path[-1]] = "7"
        assert not outsider_verifies(bad, multikey_of(key)) and not credential.verify_credential(bad, key.jwk())
    assert not credential.verify_credential(vc, SigningKey.generate().jwk())


def test_the_schema_catches_what_the_old_export_did_wrong():
    # precondition: the vendored schema is really checking (a date where a date-time is required,
    # a proof object instead of a list)
    vc = signed(credential.certificate_credential(RECORD, BASE, COMPLETED, None), SigningKey.generate())
    wrong = copy.deepcopy(vc)
    wrong["credentialSubject"]["activityEndDate"] = "2026-11-20"
    wrong["proof"] = wrong["proof"][0]
    errors = ob3_errors(wrong)
    assert any("activityEndDate" in e for e in errors) and any(e.startswith("proof") for e in errors)


def test_any_achievement_can_be_issued_as_a_valid_credential():
    key = SigningKey.generate()
    doc = credential.achievement_credential(
        credential_id="urn:uuid:6f1c5e5e-1d1f-4a43-9d34-0a4d4f0a1c01",
        issuer=credential.issuer_profile(BASE, "Coursework"),
        achievement={"id": f"{BASE}/badges/streak-30", "name": "30-day streak", "achievementType": "Badge",
                     "description": "Learned 30 days in a row", "criteria": {"narrative": "30 consecutive days"}},
        subject={"identifier": [{"type": "IdentityObject", "identityType": "name", "hashed": False,
                                 "identityHash": "Zoë"}]},
        valid_from=datetime(2026, 12, 1, 8, 0, tzinfo=timezone.utc), name="30-day streak")
    vc = signed(doc, key, created=datetime(2026, 12, 1, 8, 0, tzinfo=timezone.utc))
    assert ob3_errors(vc) == []
    assert outsider_verifies(vc, multikey_of(key))


def _bits(encoded: str) -> bytes:
    assert encoded.startswith("u")
    return gzip.decompress(base64.urlsafe_b64decode(encoded[1:] + "=" * (-len(encoded[1:]) % 4)))


def test_status_list_bits_are_what_the_specification_says():
    encoded = status_list.encode([0, 9, 131_071])
    bits = _bits(encoded)
    assert len(bits) * 8 == 131_072                      # the minimum size, for group privacy
    assert bits[0] == 0x80 and bits[1] == 0x40 and bits[-1] == 0x01     # index 0 = leftmost bit
    assert sum(bin(b).count("1") for b in bits) == 3
    assert "=" not in encoded
    assert status_list.is_set(encoded, 9) and not status_list.is_set(encoded, 10)
    with pytest.raises(ValueError):
        status_list.encode([131_072])


def test_status_list_credential_is_signed_and_says_revoked():
    key = SigningKey.generate()
    issuer = credential.issuer_id(BASE)
    doc = status_list.credential(BASE, issuer, 0, [4242], "2026-12-01T00:00:00+00:00")
    vc = signed(doc, key)
    assert vc["type"] == ["VerifiableCredential", "BitstringStatusListCredential"]
    assert vc["credentialSubject"]["type"] == "BitstringStatusList"
    assert vc["credentialSubject"]["statusPurpose"] == "revocation"
    bits = _bits(vc["credentialSubject"]["encodedList"])
    assert bits[4242 // 8] & (0x80 >> (4242 % 8))
    assert outsider_verifies(vc, multikey_of(key))


def test_slots_are_random_within_the_current_list():
    picks = {status_list.pick_slot(10) for _ in range(50)}
    assert {lst for lst, _ in picks} == {0} and len(picks) > 40
    assert status_list.pick_slot(status_list.FILL * 3)[0] == 3
