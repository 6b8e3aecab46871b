"""The OpenAPI 3.1 document, generated from the routes.

A route declares what only it knows: its success model (``answers(Model, 202)``), the errors
particular to it (``answers(..., errors=(409,))``) and a body it parses itself
(``intake.body.openapi_body``). Everything a route gets from being a route of this app is added
here, once, as the document is built:

- the bearer security scheme, and on each operation whose ``require(scope)`` guards it the
  scope it needs, with 401, 403 and 429;
- 400, 413, 415 and 422 where there is a JSON body, 422 where there are parameters, 404 where
  there is a path parameter, 500 everywhere; each as the ``{"error": {...}}`` envelope, with an
  example;
- the schemas of the request bodies routes read themselves, as components.
"""
from __future__ import annotations

import copy
from typing import Any, Iterable

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import models_json_schema

SECURITY_SCHEME = "ApiKey"
REF = "#/components/schemas/{model}"

# scope -> what it allows; a scope missing here is listed with domain.jobs.keys.SCOPES's words
SCOPE_DOCS = {
    "enqueue": "start work: enqueue jobs, upload videos, submit code, tutor sessions, cancel own jobs",
    "read": "read jobs, results, event streams and the read-only family endpoints",
    "operate": "operator actions: any caller's jobs, retry dead-lettered jobs, revoke certificates, "
               "admin-only job kinds",
}


class ErrorDetail(BaseModel):
    model_config = ConfigDict(title="ErrorDetail")
    field: str = Field(description="where the problem is: a dotted path into the body ('payload.sleep'), "
                                   "a parameter or header name, or 'body'", examples=["payload.sleep"])
    message: str = Field(description="what is wrong with it, for a developer", examples=["Input should be a valid number"])


class ErrorBody(BaseModel):
    model_config = ConfigDict(title="ErrorBody")
    code: str = Field(description="a stable machine-readable code, e.g. validation_error, rate_limited",
                      examples=["validation_error"])
    message: str = Field(description="a human-readable sentence", examples=["the request did not pass validation"])
    details: list[ErrorDetail] = Field(default_factory=list, description="one entry per offending field, if any")


class ErrorEnvelope(BaseModel):
    """Every error of the API, whatever its status."""

    model_config = ConfigDict(title="ErrorEnvelope")
    error: ErrorBody = Field(description="the error")


IDEMPOTENCY_DOC = ("any string up to 200 characters; the same key with the same request answers the first "
                   "request's result (header Idempotent-Replayed: true) instead of doing it twice; with a "
                   "different request it is a 409")

# parameter name -> (description, example): the document's default where a route gave none
PARAM_DOCS: dict[str, tuple[str, Any]] = {
    "job_id": ("the job's id", "0c1f7a3e9b2d4c55a1e2f3a4b5c6d7e8"),
    "asset_id": ("the video asset's id", "9b2d4c55a1e2f3a4"),
    "submission_id": ("the submission's id", "5c6d7e8f9a0b1c2d"),
    "exercise_id": ("the exercise's id", "ex-fizzbuzz"),
    "certificate_id": ("the certificate's verification id", "CW-7K2M-9QXD-4HNB-P3TW"),
    "user_id": ("the learner's id", "u-1"),
    "course_id": ("the course's id", "c-1"),
    "item_id": ("the inbox item (delivery) id", "d1"),
    "session_id": ("the tutor session's id", "7e8f9a0b1c2d3e4f"),
    "reply_id": ("the assistant reply to follow; default: the session's latest", "8f9a0b1c2d3e4f5a"),
    "idempotency-key": (IDEMPOTENCY_DOC, "enroll-42"),
    "last-event-id": ("resume after this event id (browsers send it when they reconnect)", "1042"),
    "token": ("the signed token from the link or from the stream-token endpoint", "eyJzZXNzaW9uIjoi..."),
    "limit": ("page size", 50),
    "before": ("next_before of the previous page", "d1"),
    "unread": ("only unread items", False),
    "start": ("first day (ISO date), inclusive", "2026-01-01"),
    "end": ("last day (ISO date), inclusive", "2026-01-31"),
    "topic": ("the exercise topic; omitted: the list of topics", "loops"),
}

# status -> (description, example code, example message)
ERRORS: dict[int, tuple[str, str, str]] = {
    400: ("Malformed JSON or an invalid token", "malformed_json", "the request body is not valid JSON"),
    401: ("Missing, unknown or revoked credentials", "unauthenticated",
          "missing API key: send 'Authorization: Bearer <key>'"),
    403: ("The credentials lack the scope this operation needs", "forbidden",
          "this API key lacks the 'enqueue' scope"),
    404: ("No such resource (or not visible to this key)", "not_found", "no job 'j_123'"),
    409: ("Conflicts with the resource's state or an Idempotency-Key used for another request",
          "idempotency_conflict", "this Idempotency-Key was already used with a different request"),
    413: ("The request body is larger than the limit", "payload_too_large",
          "the request body is larger than 1048576 bytes"),
    415: ("The body is not application/json", "unsupported_media_type", "send application/json, not 'text/plain'"),
    422: ("A field or parameter did not pass validation (details name each one)", "validation_error",
          "the request did not pass validation"),
    429: ("Rate limit or budget exceeded: retry after the Retry-After header's seconds", "rate_limited",
          "rate limit of 600 requests per minute exceeded"),
    500: ("An unexpected error (logged on the server)", "internal_error",
          "an unexpected error occurred; it has been logged"),
    503: ("A dependency is unavailable: retry after the Retry-After header's seconds, if given", "unavailable",
          "the database is unavailable"),
}
_RETRY_AFTER = {"Retry-After": {"description": "seconds to wait before retrying",
                                "schema": {"type": "integer", "minimum": 0}}}

# request bodies routes parse themselves: component name -> model, or a function making it
# (for a model built from the kind registry, made when the document is)
_bodies: dict[str, Any] = {}
_components: dict[str, type[BaseModel]] = {}     # other models the document refers to


def register_body(model: Any, name: str | None = None) -> dict:
    """The ``requestBody`` of a route that reads ``model`` itself, as a component reference."""
    name = name or model.__name__
    _bodies[name] = model
    return {"requestBody": {"required": True, "content": {"application/json": {
        "schema": {"$ref": REF.format(model=name)}}}}}


def error_response(status: int, description: str | None = None) -> dict:
    desc, code, message = ERRORS.get(status, ("Error", "error", "error"))
    out = {"description": description or desc,
           "content": {"application/json": {"schema": {"$ref": REF.format(model="ErrorEnvelope")},
                                            "example": {"error": {"code": code, "message": message,
                                                                  "details": []}}}}}
    if status in (429, 503):
        out["headers"] = copy.deepcopy(_RETRY_AFTER)
    return out


def answers(model: type[BaseModel] | None = None, status: int = 200, errors: Iterable[int] = (),
            description: str = "", media_type: str = "application/json",
            events: type[BaseModel] | None = None) -> dict:
    """``responses=`` of a route: its success model (``None`` for a non-JSON body) and the errors
    particular to it (the common ones are added for every route). ``events``: for a
    text/event-stream, the model of each event's ``data:`` (as ``x-sse-data``)."""
    ok: dict[str, Any] = {"description": description or "Success"}
    if model is not None:
        ok["model"] = model
    elif media_type != "application/json":
        ok["content"] = {media_type: {"schema": {"type": "string"}}}
        if events is not None:
            _components[events.__name__] = events
            ok["content"][media_type]["x-sse-data"] = {"$ref": REF.format(model=events.__name__)}
    out: dict[int | str, dict] = {status: ok}
    for code in errors:
        out[code] = error_response(code)
    return out


def _scope_of(route) -> str | None:
    stack = list(getattr(route, "dependant", None).dependencies if getattr(route, "dependant", None) else [])
    while stack:
        dep = stack.pop()
        scope = getattr(dep.call, "required_scope", None)
        if scope:
            return scope
        stack.extend(dep.dependencies)
    return None


def _api_routes(routes) -> Iterable[APIRoute]:
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        elif hasattr(route, "effective_route_contexts"):     # FastAPI >= 0.16x wraps included routers
            for ctx in route.effective_route_contexts():
                if isinstance(ctx.original_route, APIRoute):
                    yield ctx.original_route


def _security_scheme() -> dict:
    from domain.jobs.keys import SCOPES

    lines = "\n".join(f"- `{s}`: {SCOPE_DOCS.get(s, SCOPES[s])}" for s in SCOPES)
    return {"type": "http", "scheme": "bearer", "bearerFormat": "API key",
            "description": "An API key, as `Authorization: Bearer <key>` (or `X-API-Key: <key>`). "
                           "Each operation lists the scope it needs; a key holds one or more of:\n" + lines,
            "x-scopes": {s: SCOPE_DOCS.get(s, SCOPES[s]) for s in SCOPES}}


def _add_errors(op: dict, statuses: Iterable[int]) -> None:
    responses = op.setdefault("responses", {})
    for status in statuses:
        responses.setdefault(str(status), error_response(status))


def _finish_operation(op: dict, scope: str | None, path: str) -> None:
    responses = op.setdefault("responses", {})
    # FastAPI documents its own {"detail": ...} 422; this app answers with the envelope
    if "422" in responses and "HTTPValidationError" in str(responses["422"]):
        del responses["422"]
    for status, resp in responses.items():
        content = resp.get("content") or {}
        if status.startswith("2") and len(content) > 1 and content.get("application/json", {}).get("schema") == {}:
            del content["application/json"]      # a text/event-stream, HTML or text route
    statuses = [500]
    if scope:
        op["security"] = [{SECURITY_SCHEME: [scope]}]
        statuses += [401, 403, 429]
    if "requestBody" in op:
        statuses += [400, 413, 415, 422]
    params = op.get("parameters", [])
    for param in params:
        doc = PARAM_DOCS.get(param["name"].lower())
        if doc and not param.get("description"):
            param["description"] = doc[0]
            param.setdefault("example", doc[1])
    if params:
        statuses.append(422)
    if any(p.get("in") == "path" for p in params):
        statuses.append(404)
    _add_errors(op, sorted(set(statuses)))


def _component_schemas(models: dict[str, type[BaseModel]]) -> dict:
    if not models:
        return {}
    names = list(models)
    keyed, top = models_json_schema([(models[n], "validation") for n in names], ref_template=REF)
    defs = dict(top.get("$defs", {}))
    # a body registered under another name than its class: alias the class's schema
    for n in names:
        ref = keyed[(models[n], "validation")]["$ref"].rsplit("/", 1)[1]
        if ref != n:
            defs[n] = {"$ref": REF.format(model=ref)}
    return defs


def build(app: FastAPI) -> dict:
    schema = get_openapi(title=app.title, version=app.version, openapi_version="3.1.0",
                         summary=getattr(app, "summary", None), description=app.description,
                         routes=app.routes, tags=app.openapi_tags, servers=app.servers)
    components = schema.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    models = {n: m if isinstance(m, type) else m() for n, m in _bodies.items()}
    for name, body in _component_schemas({**models, **_components, "ErrorEnvelope": ErrorEnvelope}).items():
        if name in schemas and schemas[name] != body:
            raise RuntimeError(f"two different schemas are both named {name!r} in the OpenAPI document")
        schemas[name] = body
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    components["securitySchemes"] = {SECURITY_SCHEME: _security_scheme()}
    ops = {(route.path_format, method.lower()): route for route in _api_routes(app.routes)
           for method in route.methods}
    for path, item in schema.get("paths", {}).items():
        for method, op in item.items():
            route = ops.get((path, method))
            _finish_operation(op, _scope_of(route) if route is not None else None, path)
    return schema


def install(app: FastAPI) -> None:
    def openapi() -> dict:
        if app.openapi_schema is None:
            app.openapi_schema = build(app)
        return app.openapi_schema

    app.openapi = openapi
