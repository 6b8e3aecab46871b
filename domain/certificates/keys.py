"""The certificate signing keys: the current key (a PEM Ed25519 private key file) and the previous
public keys that old certificates were signed with, all published with their ``kid``.

The key is never derived from another secret. ``COURSEWORK_CERTIFICATE_KEY_FILE`` names the
current key; unset, development uses one key file under its state folder, generated on first use
(atomically: concurrent first uses on one machine end with the same key) and reused after.
Production refuses to start without the setting (``celeryconfig`` / the production checks), and
``load`` never generates a key when it is given no development folder.
"""
from __future__ import annotations

import functools
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from domain.certificates.signing import SigningKey, key_id, public_key_from_pem, public_multibase, public_jwk

DEV_KEY_NAME = "certificate-signing-key.pem"


class KeyMissing(RuntimeError):
    pass


@dataclass(frozen=True)
class KeyRing:
    current: SigningKey
    previous: tuple[Ed25519PublicKey, ...] = ()

    @property
    def public_keys(self) -> list[Ed25519PublicKey]:
        """Current first, then the previous ones (duplicates of the current dropped)."""
        keys = [self.current.public]
        seen = {self.current.key_id}
        for public in self.previous:
            if key_id(public) not in seen:
                seen.add(key_id(public))
                keys.append(public)
        return keys

    def jwks(self) -> list[dict]:
        return [public_jwk(k) for k in self.public_keys]

    def find(self, kid: str) -> Ed25519PublicKey | None:
        return next((k for k in self.public_keys if key_id(k) == kid), None)

    def multikeys(self, controller: str) -> list[dict]:
        """W3C Multikey verification methods (``<controller>#<kid>``) for a controller document."""
        return [{"id": f"{controller}#{key_id(k)}", "type": "Multikey", "controller": controller,
                 "publicKeyMultibase": public_multibase(k)} for k in self.public_keys]


def dev_key_file(folder: Path) -> Path:
    """The development key file under ``folder``, made on first use and reused after."""
    path = folder / DEV_KEY_NAME
    if path.is_file():
        return path
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".key-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(SigningKey.generate().pem())
        os.chmod(tmp, 0o600)
        try:
            os.link(tmp, path)          # fails if another process made it first: theirs wins
        except FileExistsError:
            pass
    finally:
        os.unlink(tmp)
    return path


def _read(path: str, setting: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise KeyMissing(f"{setting}: cannot read {path}: {exc.strerror}") from None


def split_paths(value: str | None) -> list[str]:
    """``COURSEWORK_CERTIFICATE_PREVIOUS_KEY_FILES``: paths separated by commas or the OS path separator."""
    return [p.strip() for p in (value or "").replace(os.pathsep, ",").split(",") if p.strip()]


@functools.lru_cache(maxsize=8)
def load(key_file: str | None, previous_files: str | None, dev_folder: str | None) -> KeyRing:
    """The key ring. ``dev_folder`` None (production): a missing ``key_file`` is an error."""
    if key_file:
        current = SigningKey.from_pem(_read(key_file, "COURSEWORK_CERTIFICATE_KEY_FILE"),
                                      f"COURSEWORK_CERTIFICATE_KEY_FILE ({key_file})")
    elif dev_folder:
        path = dev_key_file(Path(dev_folder))
        current = SigningKey.from_pem(path.read_bytes(), str(path))
    else:
        raise KeyMissing("COURSEWORK_CERTIFICATE_KEY_FILE is not set: certificates need a PEM Ed25519 "
                         "private key file (make one with 'coursework certificates keygen')")
    previous = tuple(public_key_from_pem(_read(p, "COURSEWORK_CERTIFICATE_PREVIOUS_KEY_FILES"),
                                         f"COURSEWORK_CERTIFICATE_PREVIOUS_KEY_FILES ({p})")
                     for p in split_paths(previous_files))
    return KeyRing(current, previous)


def from_settings(settings, state_dir: Path) -> KeyRing:
    """The ring the settings name; development (the default ``env``) may use ``state_dir``."""
    production = str(getattr(settings, "env", "development")).lower() == "production"
    return load(settings.certificate_key_file, settings.certificate_previous_key_files,
                None if production else str(state_dir))
