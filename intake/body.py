"""Read a JSON body into a pydantic model with the envelope's distinct errors:
415 for a non-JSON content type, 400 for malformed JSON, 422 for fields (with their paths).

``load_json`` is the one JSON decoder of request bodies. Beyond RFC 8259 it refuses what would
otherwise end as a 500 further in: ``NaN`` / ``Infinity`` literals and numbers that overflow to
infinity (400: they are not JSON), integers beyond 64 bits (422: Python's int parser and every
database column would choke), nesting deeper than ``MAX_JSON_DEPTH`` (422) and NUL characters in
any string or key, and lone surrogates (422: PostgreSQL text and jsonb cannot hold them).
"""
from __future__ import annotations

import json
import math
from typing import Any, TypeVar

from fastapi import Request
from pydantic import BaseModel, ValidationError

from domain.core.fields import INT64_MAX, INT64_MIN, MAX_JSON_DEPTH, depth_of, find_nul
from intake.errors import ApiError, pydantic_details

M = TypeVar("M", bound=BaseModel)


class _NotJson(ValueError):
    pass


class _Refused(ValueError):
    pass


def _constant(name: str) -> Any:
    raise _NotJson(f"{name} is not a JSON number")


def _float(literal: str) -> float:
    value = float(literal)
    if not math.isfinite(value):
        raise _NotJson(f"the number {literal[:40]} is out of range")
    return value


def _int(literal: str) -> int:
    if len(literal) > 20:   # -9223372036854775808 is 20 characters
        raise _Refused(f"integer {literal[:24]}... does not fit in 64 bits")
    value = int(literal)
    if not INT64_MIN <= value <= INT64_MAX:
        raise _Refused(f"integer {literal} does not fit in 64 bits")
    return value


def _refused(message: str) -> ApiError:
    return ApiError(422, "validation_error", "the request body was refused", [{"field": "body", "message": message}])


def load_json(raw: bytes | str) -> Any:
    """Decode a request body with the guards above (ApiError 400/422 on failure)."""
    try:
        data = json.loads(raw, parse_constant=_constant, parse_float=_float, parse_int=_int)
    except _Refused as exc:
        raise _refused(str(exc)) from None
    except (json.JSONDecodeError, UnicodeDecodeError, _NotJson) as exc:
        raise ApiError(400, "malformed_json", "the request body is not valid JSON",
                       [{"field": "body", "message": str(exc)}]) from None
    except RecursionError:
        raise _refused(f"nested deeper than {MAX_JSON_DEPTH} levels") from None
    text = raw if isinstance(raw, str) else None
    brackets = (text.count("[") + text.count("{")) if text is not None else (raw.count(b"[") + raw.count(b"{"))
    if brackets > MAX_JSON_DEPTH and depth_of(data) > MAX_JSON_DEPTH:
        raise _refused(f"nested deeper than {MAX_JSON_DEPTH} levels")
    # a NUL or a lone surrogate can only arrive as an escape, \u0000 or \ud800-\udfff (raw control
    # characters are not valid JSON, and raw bytes were decoded as UTF-8)
    escapes = ("\\u" in text) if text is not None else (b"\\u" in raw)
    if escapes and find_nul(data):
        raise _refused("NUL characters and lone surrogates are not allowed in any string")
    return data


async def parse_json(request: Request, model: type[M]) -> M:
    ctype = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
    if ctype and ctype != "application/json" and not ctype.endswith("+json"):
        raise ApiError(415, "unsupported_media_type", f"send application/json, not {ctype!r}")
    raw = await request.body()
    data = load_json(raw) if raw else None
    if not isinstance(data, dict):
        raise ApiError(422, "validation_error", "the request body must be a JSON object",
                       [{"field": "body", "message": "expected an object"}])
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ApiError(422, "validation_error", "the request did not pass validation",
                       pydantic_details(exc.errors())) from None


def openapi_body(model, name: str | None = None) -> dict:
    """``openapi_extra`` for a route that reads its body with ``parse_json``: the model (or a
    function making it) becomes a component of the OpenAPI document (``intake.openapi``)."""
    from intake.openapi import register_body

    return register_body(model, name)
