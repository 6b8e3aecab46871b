"""Check JSON against the app's own OpenAPI document with jsonschema (Draft 2020-12, as OpenAPI 3.1
schemas are), not with the pydantic models the document was generated from."""
from __future__ import annotations

from functools import cache

from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

URI = "urn:coursework:openapi"


@cache
def spec() -> dict:
    from intake.app import create_app

    return create_app().openapi()


def validator(component: str, document: dict | None = None) -> Draft202012Validator:
    document = document or spec()
    registry = Registry().with_resource(URI, Resource.from_contents(document, default_specification=DRAFT202012))
    return Draft202012Validator({"$ref": f"{URI}#/components/schemas/{component}"}, registry=registry)


def errors(component: str, instance) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator(component).iter_errors(instance)]


def response_component(method: str, path: str, status: int) -> str:
    """The component a documented response of ``method path`` refers to."""
    op = spec()["paths"][path][method.lower()]
    schema = op["responses"][str(status)]["content"]["application/json"]["schema"]
    return schema["$ref"].rsplit("/", 1)[1]
