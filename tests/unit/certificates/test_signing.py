import copy
import json

from domain.certificates import credential
from domain.certificates.signing import SigningKey, canonical_json, verify

RECORD = {"type": "CourseworkCertificate", "id": "CW-AAAA-BBBB-CCCC-DDDD", "version": 1,
          "learner": {"name": "Zoë Ångström"}, "course": {"id": "c1", "title": "Algorithms"},
          "instructor": "Ada", "completed_at": "2026-11-24", "issued_at": "2026-11-24T10:00:00+00:00",
          "grade": None, "issuer": {"name": "Coursework", "url": "http://x"},
          "verify_url": "http://x/v1/certificates/CW-AAAA-BBBB-CCCC-DDDD/verify"}


def test_canonical_json_is_sorted_compact_utf8():
    assert canonical_json({"b": 1, "a": {"z": "é", "y": [1, 2]}}) == '{"a":{"y":[1,2],"z":"é"},"b":1}'.encode()
    # numbers as a JavaScript (RFC 8785) verifier writes them
    assert canonical_json({"p": 85.0, "q": 91.25, "r": [2.0]}) == b'{"p":85,"q":91.25,"r":[2]}'


def test_signature_verifies_with_only_the_public_jwk():
    key = SigningKey.from_setting(None, "secret-1")
    sig = key.sign(RECORD)
    public = json.loads(json.dumps(key.jwk()))         # what the well-known endpoint publishes
    assert "d" not in public                            # no private part
    assert verify(RECORD, sig, public)
    # key order in the received document does not matter: the canonical form does
    assert verify(dict(reversed(list(RECORD.items()))), sig, public)


def test_tampered_field_or_other_key_fails():
    key = SigningKey.from_setting(None, "secret-1")
    sig = key.sign(RECORD)
    tampered = copy.deepcopy(RECORD)
    tampered["learner"]["name"] = "Mallory"
    assert not verify(tampered, sig, key.jwk())
    assert not verify(RECORD, sig, SigningKey.from_setting(None, "secret-2").jwk())
    assert not verify(RECORD, sig[:-2] + "AA", key.jwk())


def test_configured_key_is_used_and_key_id_is_the_jwk_thumbprint():
    import base64

    raw = base64.b64encode(bytes(range(32))).decode()
    a, b = SigningKey.from_setting(raw, "ignored"), SigningKey.from_setting(raw, "other")
    assert a.public_raw == b.public_raw and a.key_id == b.key_id
    assert a.key_id != SigningKey.from_setting(None, "ignored").key_id


def test_open_badges_credential_proof_verifies_and_detects_tampering():
    key = SigningKey.from_setting(None, "secret-1")
    doc = credential.build(RECORD, "http://x")
    vc = credential.sign(doc, key, "http://x/.well-known/coursework-certificates.json#" + key.key_id,
                         created=RECORD["issued_at"])
    assert vc["type"] == ["VerifiableCredential", "OpenBadgeCredential"]
    assert vc["credentialSubject"]["achievement"]["name"] == "Algorithms"
    assert vc["proof"]["cryptosuite"] == "eddsa-jcs-2022" and vc["proof"]["proofValue"].startswith("z")
    assert credential.verify_credential(vc, key.jwk())
    bad = copy.deepcopy(vc)
    bad["credentialSubject"]["identifier"][0]["identityHash"] = "Mallory"
    assert not credential.verify_credential(bad, key.jwk())


def test_base58_round_trip():
    for data in (b"", b"\0\0abc", bytes(range(64))):
        assert credential.b58decode(credential.b58encode(data)) == data
