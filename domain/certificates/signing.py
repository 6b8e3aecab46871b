"""Ed25519 signatures over the RFC 8785 (JSON Canonicalization Scheme) form of a record, and
the public keys as JWKs.

The canonical form is produced by the ``rfc8785`` package, so any RFC 8785 implementation
(JavaScript, Go, Java ...) gives the same bytes: anyone holding only the public key can check a
record with ``verify(record, signature, public_jwk)`` or with ``cryptography`` + ``rfc8785``.
"""
from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass

import rfc8785
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (Encoding, NoEncryption, PrivateFormat, PublicFormat,
                                                          load_pem_private_key, load_pem_public_key)

MULTICODEC_ED25519_PUB = b"\xed\x01"
_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def canonical_json(data) -> bytes:
    """RFC 8785 (JCS): sorted keys, no whitespace, UTF-8, ECMAScript number form (85.0 → 85)."""
    return rfc8785.dumps(data)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def b58encode(data: bytes) -> str:
    """Base58btc (the Bitcoin alphabet), as Multibase ``z`` values use it."""
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


def public_raw(public: Ed25519PublicKey) -> bytes:
    return public.public_bytes(Encoding.Raw, PublicFormat.Raw)


def key_id(public: Ed25519PublicKey) -> str:
    """RFC 7638 JWK thumbprint of the public key (base64url SHA-256)."""
    members = {"crv": "Ed25519", "kty": "OKP", "x": b64url(public_raw(public))}
    return b64url(hashlib.sha256(canonical_json(members)).digest())


def public_jwk(public: Ed25519PublicKey) -> dict:
    return {"kty": "OKP", "crv": "Ed25519", "x": b64url(public_raw(public)), "kid": key_id(public),
            "use": "sig", "alg": "EdDSA"}


def public_multibase(public: Ed25519PublicKey) -> str:
    """The Multikey ``publicKeyMultibase`` form: ``z`` + base58btc(0xed01 + raw key)."""
    return "z" + b58encode(MULTICODEC_ED25519_PUB + public_raw(public))


@dataclass(frozen=True)
class SigningKey:
    private: Ed25519PrivateKey

    @classmethod
    def generate(cls) -> "SigningKey":
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def from_pem(cls, data: bytes, source: str = "the key") -> "SigningKey":
        try:
            private = load_pem_private_key(data, password=None)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"{source} is not an unencrypted PEM private key: {exc}") from None
        if not isinstance(private, Ed25519PrivateKey):
            raise ValueError(f"{source} is not an Ed25519 private key")
        return cls(private)

    def pem(self) -> bytes:
        return self.private.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())

    @property
    def public(self) -> Ed25519PublicKey:
        return self.private.public_key()

    @property
    def public_raw(self) -> bytes:
        return public_raw(self.public)

    @property
    def key_id(self) -> str:
        return key_id(self.public)

    def jwk(self) -> dict:
        return public_jwk(self.public)

    def sign_bytes(self, data: bytes) -> bytes:
        return self.private.sign(data)

    def sign(self, record: dict) -> str:
        """base64url (no padding) Ed25519 signature of the record's RFC 8785 form."""
        return b64url(self.private.sign(canonical_json(record)))


def public_key_from_pem(data: bytes, source: str = "the key") -> Ed25519PublicKey:
    """A public key from a PEM file holding either the private or the public key."""
    try:
        if b"PRIVATE KEY" in data:
            return SigningKey.from_pem(data, source).public
        public = load_pem_public_key(data)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{source} is not a PEM Ed25519 key: {exc}") from None
    if not isinstance(public, Ed25519PublicKey):
        raise ValueError(f"{source} is not an Ed25519 key")
    return public


def public_key_from_jwk(jwk: dict) -> Ed25519PublicKey:
    if jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
        raise ValueError("not an Ed25519 JWK")
    return Ed25519PublicKey.from_public_bytes(b64url_decode(jwk["x"]))


def verify(record: dict, signature: str, jwk: dict) -> bool:
    """True when ``signature`` is the key's signature of the record's RFC 8785 form."""
    try:
        public_key_from_jwk(jwk).verify(b64url_decode(signature), canonical_json(record))
        return True
    except (InvalidSignature, ValueError, TypeError, rfc8785.CanonicalizationError):
        return False
