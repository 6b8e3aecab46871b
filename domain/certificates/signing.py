"""Ed25519 signatures over a canonical JSON form, and the public key as a JWK.

Canonical JSON: keys sorted, no spaces, UTF-8, no NaN (the JCS form for the strings, integers
and short decimals a certificate record holds). Anyone holding only the public key can check a
record: ``verify(record, signature, public_jwk)``.
"""
from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat


def _jcs_numbers(value):
    """Integral floats as integers (85.0 → 85), as JavaScript / RFC 8785 serialise them."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _jcs_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jcs_numbers(v) for v in value]
    return value


def canonical_json(data: dict) -> bytes:
    return json.dumps(_jcs_numbers(data), sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class SigningKey:
    private: Ed25519PrivateKey

    @classmethod
    def from_setting(cls, raw_b64: str | None, fallback_secret: str) -> "SigningKey":
        """The configured base64 raw 32-byte key, or (development) one derived from a secret."""
        if raw_b64:
            seed = base64.b64decode(raw_b64 + "=" * (-len(raw_b64) % 4))
            if len(seed) != 32:
                raise ValueError("COURSEWORK_CERTIFICATE_SIGNING_KEY must be 32 raw bytes, base64-encoded")
        else:
            seed = hashlib.sha256(b"coursework-certificates:" + fallback_secret.encode()).digest()
        return cls(Ed25519PrivateKey.from_private_bytes(seed))

    @property
    def public_raw(self) -> bytes:
        return self.private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)

    @property
    def key_id(self) -> str:
        """RFC 7638 JWK thumbprint of the public key."""
        members = {"crv": "Ed25519", "kty": "OKP", "x": b64url(self.public_raw)}
        return b64url(hashlib.sha256(canonical_json(members)).digest())

    def jwk(self) -> dict:
        return {"kty": "OKP", "crv": "Ed25519", "x": b64url(self.public_raw), "kid": self.key_id,
                "use": "sig", "alg": "EdDSA"}

    def sign_bytes(self, data: bytes) -> bytes:
        return self.private.sign(data)

    def sign(self, record: dict) -> str:
        return b64url(self.private.sign(canonical_json(record)))


def public_key_from_jwk(jwk: dict) -> Ed25519PublicKey:
    if jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
        raise ValueError("not an Ed25519 JWK")
    return Ed25519PublicKey.from_public_bytes(b64url_decode(jwk["x"]))


def verify(record: dict, signature: str, jwk: dict) -> bool:
    """True when ``signature`` is the key's signature of the record's canonical form."""
    try:
        public_key_from_jwk(jwk).verify(b64url_decode(signature), canonical_json(record))
        return True
    except (InvalidSignature, ValueError):
        return False
