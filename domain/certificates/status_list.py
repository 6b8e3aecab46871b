"""W3C Bitstring Status List v1.0 for revocation: each certificate holds one bit (a random
index in a list of ``SIZE`` bits, so a list says nothing about issue order); the platform serves
each list as a signed ``BitstringStatusListCredential`` built from the database on request, so a
revocation shows in the next fetch.

``encodedList``: the bitstring (index 0 = the most significant bit of the first byte), GZIP
compressed, base64url without padding, with the Multibase prefix ``u``.
"""
from __future__ import annotations

import base64
import gzip
import secrets
from collections.abc import Iterable

SIZE = 131_072          # bits per list: the specification's minimum, for group privacy
FILL = SIZE // 2        # a new list is started when the current one holds this many entries
PURPOSE = "revocation"
CONTEXT = ["https://www.w3.org/ns/credentials/v2"]


def pick_slot(issued_so_far: int) -> tuple[int, int]:
    """(list number, random index) for a new certificate; the caller retries on a taken slot."""
    return issued_so_far // FILL, secrets.randbelow(SIZE)


def list_url(issuer_base: str, number: int, collection: str = "certificates") -> str:
    """Where list ``number`` is served; each collection (certificates, achievements) has its lists."""
    return f"{issuer_base.rstrip('/')}/v1/{collection}/status/{number}"


def entry(issuer_base: str, number: int, index: int, collection: str = "certificates") -> dict:
    """The ``credentialStatus`` of a credential (a ``BitstringStatusListEntry``)."""
    url = list_url(issuer_base, number, collection)
    return {"id": f"{url}#{index}", "type": "BitstringStatusListEntry", "statusPurpose": PURPOSE,
            "statusListIndex": str(index), "statusListCredential": url}


def encode(set_bits: Iterable[int], size: int = SIZE) -> str:
    bits = bytearray(size // 8)
    for i in set_bits:
        if not 0 <= i < size:
            raise ValueError(f"status index {i} outside 0..{size - 1}")
        bits[i // 8] |= 0x80 >> (i % 8)
    return "u" + base64.urlsafe_b64encode(gzip.compress(bytes(bits), mtime=0)).rstrip(b"=").decode()


def decode(encoded: str) -> bytes:
    if not encoded.startswith("u"):
        raise ValueError("encodedList must be Multibase base64url (prefix 'u')")
    raw = encoded[1:]
    return gzip.decompress(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))


def is_set(encoded: str, index: int) -> bool:
    bits = decode(encoded)
    return bool(bits[index // 8] & (0x80 >> (index % 8)))


def credential(issuer_base: str, issuer_id: str, number: int, set_bits: Iterable[int], valid_from: str,
               collection: str = "certificates") -> dict:
    """The unsigned ``BitstringStatusListCredential`` of list ``number``."""
    url = list_url(issuer_base, number, collection)
    return {
        "@context": CONTEXT,
        "id": url,
        "type": ["VerifiableCredential", "BitstringStatusListCredential"],
        "issuer": issuer_id,
        "validFrom": valid_from,
        "credentialSubject": {"id": f"{url}#list", "type": "BitstringStatusList", "statusPurpose": PURPOSE,
                              "encodedList": encode(set_bits)},
    }
