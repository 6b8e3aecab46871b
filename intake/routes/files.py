"""Signed file URLs for the local-folder storage (the S3 backend uses real presigned URLs).

A PUT is streamed to disk as it arrives, never held in memory; its URL's signature covers the
declared size and content type, so a leaked upload URL stores at most that many bytes of that
type. More bytes than declared is 413, fewer is 400; nothing is kept in either case."""
from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, Response
from starlette.requests import ClientDisconnect

from domain.core.fields import INT64_MAX
from domain.storage import KeyOutsideRoot, LocalStorage, UploadIncomplete, UploadTooLarge, get_storage
from intake.auth import public
from intake.errors import ApiError

router = APIRouter(tags=["files"])


def _local(key: str, expires: int, signature: str, method: str, size: int | None = None,
           content_type: str | None = None) -> LocalStorage:
    storage = get_storage()
    if not isinstance(storage, LocalStorage):
        raise ApiError(404, "not_found", "file URLs are served by S3 in this deployment")
    try:
        storage._path(key)
    except KeyOutsideRoot:
        raise ApiError(404, "not_found", "no such file") from None
    if not storage.verify(method, key, expires, signature, size, content_type):
        raise ApiError(403, "forbidden", "the signed URL is invalid or expired")
    return storage


@router.get("/v1/files/{key:path}", include_in_schema=False)
def get_file(key: str, expires: int, signature: str, _limit: None = public()):
    storage = _local(key, expires, signature, "GET")
    if not storage.exists(key):
        raise ApiError(404, "not_found", "no such file")
    head = storage.head(key)
    return FileResponse(storage._path(key), media_type=head["content_type"],
                        headers={"Cache-Control": head["cache_control"] or "no-cache",
                                 "X-Content-Type-Options": "nosniff",
                                 "Content-Security-Policy": "default-src 'none'; sandbox"})


@router.put("/v1/files/{key:path}", include_in_schema=False)
async def put_file(key: str, expires: int, signature: str, request: Request, size: int | None = None,
                   _limit: None = public()):
    if size is None or not 0 <= size <= INT64_MAX:
        raise ApiError(422, "validation_error", "an upload URL carries its size",
                       [{"field": "size", "message": "missing or out of range"}])
    content_type = request.headers.get("content-type")
    storage = _local(key, expires, signature, "PUT", size, content_type)
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > size:
        raise ApiError(413, "payload_too_large", f"this upload URL accepts at most {size} bytes")
    try:
        await storage.receive_upload(key, request.stream(), size, content_type)
    except UploadTooLarge:
        raise ApiError(413, "payload_too_large", f"this upload URL accepts at most {size} bytes") from None
    except UploadIncomplete as exc:
        raise ApiError(400, "bad_request", f"the upload was {exc.written} bytes; this URL is for {size}") from None
    except ClientDisconnect:
        raise ApiError(400, "bad_request", "the upload was interrupted") from None
    return Response(status_code=200)
