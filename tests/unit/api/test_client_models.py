"""The client's typed models agree with the OpenAPI document: every field the client reads is a
property of the component of the same name, and a field the client requires, the server always sends."""
from __future__ import annotations

import inspect

from pydantic import BaseModel

from coursework_client import models
from tests.support.openapi import spec

CLIENT_ONLY = {"replayed"}          # from the Idempotent-Replayed header, not the body


def client_models():
    for name, obj in inspect.getmembers(models, inspect.isclass):
        if issubclass(obj, BaseModel) and obj.__module__ == models.__name__ and not name.startswith("_"):
            yield name, obj


def test_client_models_match_the_documented_components():
    components = spec()["components"]["schemas"]
    checked = []
    for name, model in client_models():
        assert name in components, f"the client's {name} has no component in the OpenAPI document"
        schema = components[name]
        required = set(schema.get("required", []))
        for field, info in model.model_fields.items():
            if field in CLIENT_ONLY:
                continue
            assert field in schema["properties"], f"{name}.{field} is not in the document"
            if info.is_required():
                assert field in required, f"{name}.{field} is required by the client, optional in the document"
        checked.append(name)
    assert {"Job", "JobAccepted", "Submission", "TutorMessage", "VideoAsset"} <= set(checked)
