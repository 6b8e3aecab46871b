"""The OpenAPI document the app generates: valid OpenAPI 3.1 (openapi-spec-validator), typed,
with the security scheme, the error envelope and a documented field everywhere."""
from __future__ import annotations

import pytest
from openapi_spec_validator import validate

from tests.support.openapi import errors, spec

ENVELOPE = "#/components/schemas/ErrorEnvelope"


def operations():
    for path, item in spec()["paths"].items():
        for method, op in item.items():
            yield method, path, op


def test_the_document_is_valid_openapi_3_1():
    doc = spec()
    assert doc["openapi"].startswith("3.1")
    validate(doc)


def test_bearer_scheme_lists_every_scope_and_each_guarded_operation_names_its_scope():
    from domain.jobs.keys import SCOPES

    scheme = spec()["components"]["securitySchemes"]["ApiKey"]
    assert scheme["type"] == "http" and scheme["scheme"] == "bearer"
    assert set(scheme["x-scopes"]) == set(SCOPES)
    guarded = {(m, p): op["security"][0]["ApiKey"] for m, p, op in operations() if op.get("security")}
    assert guarded[("post", "/v1/jobs")] == ["enqueue"]
    assert guarded[("get", "/v1/jobs/{job_id}")] == ["read"]
    assert guarded[("post", "/v1/jobs/{job_id}/retry")] == ["operate"]
    assert ("get", "/v1/certificates/{certificate_id}/verify") not in guarded      # public
    for (method, path), scopes in guarded.items():
        assert len(scopes) == 1 and scopes[0] in SCOPES, (method, path)


def test_every_operation_documents_success_and_its_errors_as_the_envelope():
    for method, path, op in operations():
        responses = op["responses"]
        ok = [s for s in responses if s.startswith("2")]
        assert ok, (method, path)
        for s in ok:
            content = responses[s].get("content") or {}
            assert content, (method, path, s)
            if "application/json" in content:
                assert "$ref" in content["application/json"]["schema"], (method, path, s)
        expected = {"500"}
        if op.get("security"):
            expected |= {"401", "403", "429"}
        if "requestBody" in op:
            expected |= {"400", "413", "415", "422"}
        if any(p["in"] == "path" for p in op.get("parameters", [])):
            expected |= {"404", "422"}
        assert expected <= set(responses), (method, path, expected - set(responses))
        for status, resp in responses.items():
            if (path, status) == ("/readyz", "503"):     # readiness answers its checks, not an error
                continue
            if status[0] in "45":
                body = resp["content"]["application/json"]
                assert body["schema"]["$ref"] == ENVELOPE, (method, path, status)
                assert not errors("ErrorEnvelope", body["example"]), (method, path, status)
        for status in ("429", "503"):
            if status in responses and path != "/readyz":
                assert "Retry-After" in responses[status]["headers"]
    assert "HTTPValidationError" not in str(spec())


def test_every_field_and_parameter_has_a_description_and_every_scalar_an_example():
    undocumented, no_example = [], []
    for name, schema in spec()["components"]["schemas"].items():
        for field, prop in (schema.get("properties") or {}).items():
            if not prop.get("description"):
                undocumented.append(f"{name}.{field}")
            elif "$ref" not in prop and prop.get("type") != "array" and not prop.get("examples"):
                no_example.append(f"{name}.{field}")
    for method, path, op in operations():
        for p in op.get("parameters", []):
            if not p.get("description"):
                undocumented.append(f"{method} {path} {p['name']}")
    assert not undocumented
    assert not no_example


def test_post_jobs_is_a_union_discriminated_by_kind_with_each_kinds_payload():
    from domain.jobs.kinds import catalog

    doc = spec()
    body = doc["paths"]["/v1/jobs"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    union = doc["components"]["schemas"][body["$ref"].rsplit("/", 1)[1]]
    assert union["discriminator"]["propertyName"] == "kind"
    mapping = union["discriminator"]["mapping"]
    assert set(mapping) == set(catalog().kinds)
    for kind_name, ref in mapping.items():
        variant = doc["components"]["schemas"][ref.rsplit("/", 1)[1]]
        payload_ref = variant["properties"]["payload"]["$ref"].rsplit("/", 1)[1]
        assert set(doc["components"]["schemas"][payload_ref]["properties"]) == \
            set(catalog().get(kind_name).payload.model_fields), kind_name


@pytest.mark.parametrize("body, ok", [
    ({"kind": "ping", "payload": {"echo": "hi"}}, True),
    ({"kind": "ping"}, True),                                             # every ping field has a default
    ({"kind": "ping", "payload": {"sleep": "soon"}}, False),
    ({"kind": "ping", "payload": {"nope": 1}}, False),
    ({"kind": "transcode", "payload": {"asset_id": "a1", "ladder": [720, 360]}}, True),
    ({"kind": "transcode", "payload": {}}, False),                       # asset_id is required
    ({"kind": "transcode", "payload": {"echo": "hi"}}, False),           # another kind's payload
    ({"kind": "mine-bitcoin", "payload": {}}, False),
    ({"kind": "ping", "payload": {}, "run_at": "2026-01-05T18:00:00Z"}, True),
])
def test_the_documented_request_schema_accepts_and_refuses_as_the_api_does(body, ok):
    assert (not errors("JobRequest", body)) is ok, errors("JobRequest", body)
