import copy
import hashlib
import json
import multiprocessing
import os
import stat
from types import SimpleNamespace

import pytest

from domain.certificates import keys
from domain.certificates.signing import SigningKey, canonical_json, verify

RECORD = {"type": "CourseworkCertificate", "id": "CW-AAAA-BBBB-CCCC-DDDD", "version": 1,
          "learner": {"name": "Zoë Ångström"}, "course": {"id": "c1", "title": "Algorithms"},
          "instructor": "Ada", "completed_at": "2026-11-24", "issued_at": "2026-11-24T10:00:00+00:00",
          "grade": {"percent": 85.0, "letter": "B"}, "issuer": {"name": "Coursework", "url": "http://x"},
          "verify_url": "http://x/v1/certificates/CW-AAAA-BBBB-CCCC-DDDD/verify"}


def test_canonical_json_is_rfc8785():
    assert canonical_json({"b": 1, "a": {"z": "é", "y": [1, 2]}}) == '{"a":{"y":[1,2],"z":"é"},"b":1}'.encode()
    # numbers as a JavaScript (RFC 8785) verifier writes them
    assert canonical_json({"p": 85.0, "q": 91.25, "r": [2.0], "s": 1e21, "t": 1e-7}) == \
        b'{"p":85,"q":91.25,"r":[2],"s":1e+21,"t":1e-7}'
    # keys sorted by UTF-16 code units, not by code points (RFC 8785 section 3.2.3)
    assert canonical_json({"\U0001F600": 1, "\uFB33": 2}) == '{"\U0001F600":1,"\uFB33":2}'.encode()


def test_signature_verifies_with_only_the_public_jwk():
    key = SigningKey.generate()
    sig = key.sign(RECORD)
    public = json.loads(json.dumps(key.jwk()))         # what the well-known endpoint publishes
    assert "d" not in public                            # no private part
    assert verify(RECORD, sig, public)
    # key order and integral floats in the received document do not matter: the canonical form does
    received = json.loads(json.dumps(dict(reversed(list(RECORD.items())))).replace("85.0", "85"))
    assert received["grade"]["percent"] == 85 and verify(received, sig, public)


def test_tampered_field_or_other_key_fails():
    key = SigningKey.generate()
    sig = key.sign(RECORD)
    tampered = copy.deepcopy(RECORD)
    tampered["learner"]["name"] = "Mallory"
    assert not verify(tampered, sig, key.jwk())
    assert not verify(RECORD, sig, SigningKey.generate().jwk())
    from domain.certificates.signing import b64url, b64url_decode
    flipped = bytearray(b64url_decode(sig))
    flipped[10] ^= 1
    assert not verify(RECORD, b64url(bytes(flipped)), key.jwk())
    assert not verify(RECORD, "not base64 !", key.jwk())


def test_pem_round_trip_and_key_id_is_the_jwk_thumbprint():
    key = SigningKey.generate()
    again = SigningKey.from_pem(key.pem())
    assert again.public_raw == key.public_raw and again.key_id == key.key_id
    # RFC 7638: SHA-256 over {"crv","kty","x"} in that order, no spaces
    jwk = key.jwk()
    members = json.dumps({"crv": "Ed25519", "kty": "OKP", "x": jwk["x"]}, separators=(",", ":")).encode()
    import base64
    assert jwk["kid"] == base64.urlsafe_b64encode(hashlib.sha256(members).digest()).rstrip(b"=").decode()
    with pytest.raises(ValueError, match="not an unencrypted PEM"):
        SigningKey.from_pem(b"-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----\n")


def _settings(key_file=None, previous="", env="development"):
    return SimpleNamespace(certificate_key_file=key_file, certificate_previous_key_files=previous, env=env)


def test_development_makes_one_key_file_and_reuses_it(tmp_path):
    keys.load.cache_clear()
    ring = keys.from_settings(_settings(), tmp_path)
    path = tmp_path / keys.DEV_KEY_NAME
    assert path.is_file() and stat.S_IMODE(path.stat().st_mode) == 0o600
    keys.load.cache_clear()
    assert keys.from_settings(_settings(), tmp_path).current.key_id == ring.current.key_id
    assert [p.name for p in tmp_path.iterdir()] == [keys.DEV_KEY_NAME]      # no temporary files left


def _first_use(folder: str, out) -> None:
    from pathlib import Path

    out.put(keys.SigningKey.from_pem(keys.dev_key_file(Path(folder)).read_bytes()).key_id)


def test_concurrent_first_uses_end_with_one_key(tmp_path):
    ctx = multiprocessing.get_context("spawn")        # no fork of a process that may run threads
    out = ctx.Queue()
    procs = [ctx.Process(target=_first_use, args=(str(tmp_path), out)) for _ in range(4)]
    [p.start() for p in procs]
    [p.join(60) for p in procs]
    assert all(p.exitcode == 0 for p in procs)
    assert len({out.get(timeout=5) for _ in procs}) == 1


def test_production_never_generates_a_key(tmp_path):
    keys.load.cache_clear()
    with pytest.raises(keys.KeyMissing, match="COURSEWORK_CERTIFICATE_KEY_FILE"):
        keys.from_settings(_settings(env="production"), tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_configured_file_and_previous_keys_are_published_with_their_kids(tmp_path):
    old, new = SigningKey.generate(), SigningKey.generate()
    (tmp_path / "new.pem").write_bytes(new.pem())
    (tmp_path / "old.pem").write_bytes(old.pem())
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    older = SigningKey.generate()
    (tmp_path / "older.pub.pem").write_bytes(older.public.public_bytes(Encoding.PEM,
                                                                       PublicFormat.SubjectPublicKeyInfo))
    keys.load.cache_clear()
    ring = keys.from_settings(_settings(str(tmp_path / "new.pem"),
                                        f"{tmp_path / 'old.pem'}, {tmp_path / 'older.pub.pem'}"), tmp_path / "dev")
    assert ring.current.key_id == new.key_id
    assert [j["kid"] for j in ring.jwks()] == [new.key_id, old.key_id, older.key_id]
    assert not (tmp_path / "dev").exists()                         # a configured key: nothing generated
    # a certificate signed with the old key still verifies with the JWK published under its kid
    sig = old.sign(RECORD)
    published = {j["kid"]: j for j in ring.jwks()}
    assert verify(RECORD, sig, published[old.key_id])
    keys.load.cache_clear()
    with pytest.raises(keys.KeyMissing, match="cannot read"):
        keys.from_settings(_settings(str(tmp_path / "missing.pem")), tmp_path)


def test_a_record_forged_with_the_old_secret_derivation_is_refused(tmp_path):
    # the old scheme derived the key from COURSEWORK_SIGNING_SECRET: anyone knowing the (default)
    # secret could sign a made-up record. No published key accepts such a signature now.
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    keys.load.cache_clear()
    ring = keys.from_settings(_settings(), tmp_path)
    for secret in ("dev-only-change-me", os.environ.get("COURSEWORK_SIGNING_SECRET", "dev-only-change-me")):
        seed = hashlib.sha256(b"coursework-certificates:" + secret.encode()).digest()
        forger = SigningKey(Ed25519PrivateKey.from_private_bytes(seed))
        forged = {**RECORD, "learner": {"name": "Mallory"}}
        sig = forger.sign(forged)
        assert verify(forged, sig, forger.jwk())                   # the forgery is a well-formed signature
        assert forger.key_id not in {j["kid"] for j in ring.jwks()}
        assert not any(verify(forged, sig, j) for j in ring.jwks())
