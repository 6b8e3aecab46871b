"""Signed file URLs for the local-folder storage (the S3 backend uses real presigned URLs)."""
from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, Response

from domain.storage import LocalStorage, get_storage
from intake.errors import ApiError

router = APIRouter(tags=["files"])


def _local(key: str, expires: int, signature: str, method: str) -> LocalStorage:
    storage = get_storage()
    if not isinstance(storage, LocalStorage):
        raise ApiError(404, "not_found", "file URLs are served by S3 in this deployment")
    if not storage.verify(method, key, expires, signature):
        raise ApiError(403, "forbidden", "the signed URL is invalid or expired")
    return storage


@router.get("/v1/files/{key:path}", include_in_schema=False)
def get_file(key: str, expires: int, signature: str):
    storage = _local(key, expires, signature, "GET")
    if not storage.exists(key):
        raise ApiError(404, "not_found", "no such file")
    head = storage.head(key)
    return FileResponse(storage._path(key), media_type=head["content_type"],
                        headers={"Cache-Control": head["cache_control"] or "no-cache"})


@router.put("/v1/files/{key:path}", include_in_schema=False)
async def put_file(key: str, expires: int, signature: str, request: Request):
    storage = _local(key, expires, signature, "PUT")
    storage.put_bytes(key, await request.body(), request.headers.get("content-type"))
    return Response(status_code=200)
