"""Read a JSON body into a pydantic model with the envelope's distinct errors:
415 for a non-JSON content type, 400 for malformed JSON, 422 for fields (with their paths)."""
from __future__ import annotations

import json
from typing import TypeVar

from fastapi import Request
from pydantic import BaseModel, ValidationError

from intake.errors import ApiError, pydantic_details

M = TypeVar("M", bound=BaseModel)


async def parse_json(request: Request, model: type[M]) -> M:
    ctype = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
    if ctype and ctype != "application/json" and not ctype.endswith("+json"):
        raise ApiError(415, "unsupported_media_type", f"send application/json, not {ctype!r}")
    raw = await request.body()
    try:
        data = json.loads(raw) if raw else None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ApiError(400, "malformed_json", "the request body is not valid JSON",
                       [{"field": "body", "message": str(exc)}]) from None
    if not isinstance(data, dict):
        raise ApiError(422, "validation_error", "the request body must be a JSON object",
                       [{"field": "body", "message": "expected an object"}])
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ApiError(422, "validation_error", "the request did not pass validation",
                       pydantic_details(exc.errors())) from None


def openapi_body(model: type[BaseModel]) -> dict:
    """``openapi_extra`` for a route that reads its body with ``parse_json``."""
    return {"requestBody": {"required": True,
                            "content": {"application/json": {"schema": model.model_json_schema()}}}}
