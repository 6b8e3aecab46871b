"""Object storage behind one small interface: S3 (boto3) in production and tests, a local
folder for the embedded demo. Keys are deterministic, so a rerun overwrites, never duplicates."""
from __future__ import annotations

import functools
import hashlib
import hmac
import os
import mimetypes
import shutil
import time
from pathlib import Path
from typing import Protocol
from urllib.parse import quote, urlencode, urlparse

from domain.core import purpose_keys
from domain.core.purpose_keys import KeyRing, as_ring

DEFAULT_CACHE = "public, max-age=31536000, immutable"


class Storage(Protocol):
    def put_bytes(self, key: str, data: bytes, content_type: str | None = None,
                  cache_control: str | None = None) -> None: ...
    def put_file(self, key: str, path: Path, content_type: str | None = None,
                 cache_control: str | None = None) -> None: ...
    def get_bytes(self, key: str) -> bytes: ...
    def download(self, key: str, path: Path) -> None: ...
    def exists(self, key: str) -> bool: ...
    def size(self, key: str) -> int: ...
    def head(self, key: str) -> dict: ...
    def delete_prefix(self, prefix: str) -> int: ...
    def list(self, prefix: str) -> list[str]: ...
    def presigned_get(self, key: str, expires: int = 3600) -> str: ...
    def presigned_put(self, key: str, content_type: str, expires: int = 3600, size: int | None = None) -> str: ...


def guess_type(key: str) -> str:
    if key.endswith(".m3u8"):
        return "application/vnd.apple.mpegurl"
    if key.endswith(".ts"):
        return "video/mp2t"
    if key.endswith(".vtt"):
        return "text/vtt"
    return mimetypes.guess_type(key)[0] or "application/octet-stream"


class S3Storage:
    def __init__(self, bucket: str, endpoint_url: str | None = None, region: str = "us-east-1",
                 client=None):
        import boto3
        from botocore.config import Config

        self.bucket = bucket
        self.client = client or boto3.client(
            "s3", endpoint_url=endpoint_url, region_name=region,
            config=Config(connect_timeout=5, read_timeout=60, retries={"max_attempts": 3, "mode": "standard"},
                          s3={"addressing_style": "path"}),
        )

    def ensure_bucket(self) -> None:
        from botocore.exceptions import ClientError

        try:
            self.client.head_bucket(Bucket=self.bucket)
        except ClientError:
            self.client.create_bucket(Bucket=self.bucket)

    def _extra(self, key, content_type, cache_control) -> dict:
        return {"ContentType": content_type or guess_type(key), "CacheControl": cache_control or DEFAULT_CACHE}

    def put_bytes(self, key, data, content_type=None, cache_control=None):
        self.client.put_object(Bucket=self.bucket, Key=key, Body=data, **self._extra(key, content_type, cache_control))

    def put_file(self, key, path, content_type=None, cache_control=None):
        self.client.upload_file(str(path), self.bucket, key, ExtraArgs=self._extra(key, content_type, cache_control))

    def get_bytes(self, key):
        return self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()

    def download(self, key, path):
        self.client.download_file(self.bucket, key, str(path))

    def head(self, key):
        h = self.client.head_object(Bucket=self.bucket, Key=key)
        return {"size": h["ContentLength"], "content_type": h.get("ContentType"),
                "cache_control": h.get("CacheControl")}

    def exists(self, key):
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=key)
            return True
        except ClientError:
            return False

    def size(self, key):
        return self.head(key)["size"]

    def list(self, prefix):
        keys = []
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
            keys.extend(o["Key"] for o in page.get("Contents", []))
        return keys

    def delete_prefix(self, prefix):
        keys = self.list(prefix)
        for i in range(0, len(keys), 1000):
            self.client.delete_objects(Bucket=self.bucket,
                                       Delete={"Objects": [{"Key": k} for k in keys[i:i + 1000]]})
        return len(keys)

    def presigned_get(self, key, expires=3600):
        return self.client.generate_presigned_url("get_object", Params={"Bucket": self.bucket, "Key": key},
                                                  ExpiresIn=expires)

    def presigned_put(self, key, content_type, expires=3600, size=None):
        return self.client.generate_presigned_url(
            "put_object", Params={"Bucket": self.bucket, "Key": key, "ContentType": content_type}, ExpiresIn=expires)


class KeyOutsideRoot(ValueError):
    """A storage key that names no file under the root (``..``, absolute, NUL): there is no such file."""


class UploadTooLarge(Exception):
    pass


class UploadIncomplete(Exception):
    def __init__(self, written: int):
        super().__init__(f"the upload ended after {written} bytes")
        self.written = written


class LocalStorage:
    """A folder with the same interface. Presigned URLs point at intake's ``/v1/files`` route,
    signed with HMAC (the ``files`` purpose key) and an expiry, so they behave like S3's; a PUT
    URL's signature also covers the declared size and content type."""

    def __init__(self, root: Path, base_url: str = "http://127.0.0.1:8000", secret: KeyRing | str = "dev"):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.base_url = base_url.rstrip("/")
        self.keys = as_ring(secret, "files")

    def _path(self, key: str) -> Path:
        if not key or "\x00" in key:
            raise KeyOutsideRoot(f"not a storage key: {key!r}")
        p = (self.root / key).resolve()
        if self.root.resolve() not in p.parents:
            raise KeyOutsideRoot(f"key escapes the storage root: {key!r}")
        return p

    def _write_meta(self, key, content_type, cache_control):
        meta = self._path(key).with_name(self._path(key).name + ".meta")
        meta.write_text(f"{content_type or guess_type(key)}\n{cache_control or DEFAULT_CACHE}\n")

    def put_bytes(self, key, data, content_type=None, cache_control=None):
        p = self._path(key)
        p.parent.mkdir(parents=True, exist_ok=True)
        tmp = p.with_name(p.name + ".part")
        tmp.write_bytes(data)
        tmp.replace(p)
        self._write_meta(key, content_type, cache_control)

    def put_file(self, key, path, content_type=None, cache_control=None):
        p = self._path(key)
        p.parent.mkdir(parents=True, exist_ok=True)
        tmp = p.with_name(p.name + ".part")
        shutil.copyfile(path, tmp)
        tmp.replace(p)
        self._write_meta(key, content_type, cache_control)

    def get_bytes(self, key):
        return self._path(key).read_bytes()

    def download(self, key, path):
        shutil.copyfile(self._path(key), path)

    def exists(self, key):
        return self._path(key).is_file()

    def size(self, key):
        return self._path(key).stat().st_size

    def head(self, key):
        meta = self._path(key).with_name(self._path(key).name + ".meta")
        ctype, cache = (meta.read_text().splitlines() + [None, None])[:2] if meta.exists() else (guess_type(key), None)
        return {"size": self.size(key), "content_type": ctype, "cache_control": cache}

    def list(self, prefix):
        return sorted(str(p.relative_to(self.root)) for p in self.root.rglob("*")
                      if p.is_file() and not p.name.endswith((".meta", ".part"))
                      and str(p.relative_to(self.root)).startswith(prefix))

    def delete_prefix(self, prefix):
        keys = self.list(prefix)
        for k in keys:
            self._path(k).unlink(missing_ok=True)
            self._path(k).with_name(self._path(k).name + ".meta").unlink(missing_ok=True)
        return len(keys)

    @staticmethod
    def _mac(secret: bytes, method: str, key: str, expires_at: int, terms: str) -> str:
        message = f"{method}\n{key}\n{expires_at}\n{terms}".encode()
        return hmac.new(secret, message, hashlib.sha256).hexdigest()

    def sign(self, method: str, key: str, expires_at: int, size: int | None = None,
             content_type: str | None = None) -> str:
        return self._mac(self.keys.current, method, key, expires_at, _terms(size, content_type))

    def verify(self, method: str, key: str, expires_at: int, signature: str, size: int | None = None,
               content_type: str | None = None) -> bool:
        terms = _terms(size, content_type)
        return expires_at >= time.time() and self.keys.matches(
            lambda secret: self._mac(secret, method, key, expires_at, terms), signature)

    def _url(self, method, key, expires, size=None, content_type=None):
        exp = int(time.time()) + expires
        query = {"expires": exp}
        if size is not None:
            query["size"] = size
        query["signature"] = self.sign(method, key, exp, size, content_type)
        return f"{self.base_url}/v1/files/{quote(key)}?{urlencode(query)}"

    def presigned_get(self, key, expires=3600):
        return self._url("GET", key, expires)

    def presigned_put(self, key, content_type, expires=3600, size=None):
        """A PUT URL for exactly ``size`` bytes (when given) of ``content_type``."""
        return self._url("PUT", key, expires, size, content_type)

    async def receive_upload(self, key: str, chunks, size: int | None, content_type: str | None) -> int:
        """Stream an upload to ``key`` through a ``.part`` file; more than ``size`` bytes raise
        ``UploadTooLarge``, fewer ``UploadIncomplete`` (nothing is kept either way)."""
        p = self._path(key)
        p.parent.mkdir(parents=True, exist_ok=True)
        tmp = p.with_name(f"{p.name}.{os.getpid()}.{time.monotonic_ns()}.part")
        written = 0
        try:
            with open(tmp, "wb") as f:
                async for chunk in chunks:
                    written += len(chunk)
                    if size is not None and written > size:
                        raise UploadTooLarge(f"more than the declared {size} bytes")
                    f.write(chunk)
            if size is not None and written != size:
                raise UploadIncomplete(written)
            tmp.replace(p)
        finally:
            tmp.unlink(missing_ok=True)
        self._write_meta(key, content_type, None)
        return written


def _terms(size: int | None, content_type: str | None) -> str:
    return f"{'' if size is None else size}\n{content_type or ''}"


def storage_from_url(url: str, *, endpoint_url: str | None = None, region: str = "us-east-1",
                     base_url: str = "http://127.0.0.1:8000", secret: KeyRing | str = "dev") -> Storage:
    parsed = urlparse(url)
    if parsed.scheme == "s3":
        return S3Storage(parsed.netloc, endpoint_url=endpoint_url, region=region)
    if parsed.scheme in ("local", "file"):
        return LocalStorage(Path(parsed.netloc + parsed.path), base_url=base_url, secret=secret)
    raise ValueError(f"unsupported storage URL {url!r}: use s3://bucket or local:///path")


@functools.cache
def get_storage() -> Storage:
    """The platform's storage from the settings, built on first use (by intake and workers alike)."""
    from celeryconfig import settings     # read when first used, so importing this module reads no environment

    return storage_from_url(settings.storage_url, endpoint_url=settings.s3_endpoint_url,
                            region=settings.s3_region, base_url=settings.public_base_url,
                            secret=purpose_keys.from_settings(settings, "files"))
