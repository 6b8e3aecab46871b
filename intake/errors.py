"""One error envelope everywhere: {"error": {"code", "message", "details": [{"field", "message"}]}}."""
from __future__ import annotations

import json
import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException

from domain.db import unavailable
from domain.jobs.errors import InvalidPayload

log = logging.getLogger(__name__)


log = logging.getLogger(__name__)


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, details: list[dict] | None = None,
                 headers: dict | None = None):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.details = details or []
        self.headers = headers or {}


def envelope(status: int, code: str, message: str, details: list[dict] | None = None,
             headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message, "details": details or []}},
                        status_code=status, headers=headers)


def pydantic_details(errors: list[dict], prefix: str = "", skip: int = 0) -> list[dict]:
    out = []
    for err in errors:
        loc = [str(p) for p in err.get("loc", ())][skip:]
        field = ".".join([prefix, *loc] if prefix else loc) or prefix or "body"
        out.append({"field": field, "message": err.get("msg", "invalid")})
    return out


_STATUS_CODES = {400: "bad_request", 401: "unauthenticated", 403: "forbidden", 404: "not_found",
                 405: "method_not_allowed", 409: "conflict", 413: "payload_too_large",
                 415: "unsupported_media_type", 429: "rate_limited", 503: "unavailable"}


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_req: Request, exc: ApiError):
        return envelope(exc.status, exc.code, exc.message, exc.details, exc.headers)

    @app.exception_handler(InvalidPayload)
    async def _invalid(_req: Request, exc: InvalidPayload):
        return envelope(422, "invalid_payload", exc.message, exc.details)

    @app.exception_handler(RequestValidationError)
    async def _validation(_req: Request, exc: RequestValidationError):
        errors = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errors):
            return envelope(400, "malformed_json", "the request body is not valid JSON",
                            [{"field": "body", "message": str(errors[0].get("ctx", {}).get("error", "invalid JSON"))}])
        details = []
        for e in errors:
            loc = [str(p) for p in e.get("loc", ())]
            if loc and loc[0] in ("body", "query", "path", "header"):
                loc = loc[1:] if loc[0] == "body" else loc
            details.append({"field": ".".join(loc) or "body", "message": e.get("msg", "invalid")})
        return envelope(422, "validation_error", "the request did not pass validation", details)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_req: Request, exc: StarletteHTTPException):
        code = _STATUS_CODES.get(exc.status_code, "error")
        return envelope(exc.status_code, code, str(exc.detail), headers=getattr(exc, "headers", None))

    @app.exception_handler(json.JSONDecodeError)
    async def _json(_req: Request, exc: json.JSONDecodeError):
        return envelope(400, "malformed_json", "the request body is not valid JSON",
                        [{"field": "body", "message": str(exc)}])

    @app.exception_handler(SQLAlchemyError)   # answered here: the connection stays usable for the retry
    async def _database(_req: Request, exc: SQLAlchemyError):
        if unavailable(exc):   # the database blipped: try again shortly (an Idempotency-Key makes that safe)
            log.warning("database unavailable: %s", exc)
            return envelope(503, "unavailable", "the database is unavailable; retry shortly with the same "
                            "Idempotency-Key", headers={"Retry-After": "1"})
        log.error("unexpected database error", exc_info=exc)
        return envelope(500, "internal_error", "an unexpected error occurred; it has been logged")

    @app.exception_handler(Exception)
    async def _unexpected(req: Request, exc: Exception):
        log.error("unhandled error on %s %s", req.method, req.url.path, exc_info=exc)
        return envelope(500, "internal_error", "an unexpected error occurred; it has been logged")
