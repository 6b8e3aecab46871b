"""schemathesis against the app's own OpenAPI document: for every operation, generated requests
(valid and invalid) must never get a 5xx, and every answer must match the documented response.

It runs against an intake of its own (own database, own Redis database, no worker), so what it
writes never reaches the other tests. The key it uses may write to every family but not
``operate``: the ping drills (worker crash, sleeps) stay out of reach. The default run is
bounded; ``-m slow`` runs many more examples per operation."""
from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error, response_schema_conformance

from domain.jobs.keys import SCOPES

STREAMS = r"/(stream|events)$"       # server-sent event streams stay open: not for a fuzzer
WRITE_AND_READ = ",".join(s for s in SCOPES if s != "operate")


@pytest.fixture(scope="module")
def own_stack(redis_server, s3_server):
    from tests.support.stack import Database, Stack

    db = Database().create()
    st = Stack(db, redis_server.url.rsplit("/", 1)[0] + "/9", s3_server.endpoint)
    st.start_intake()
    yield st
    st.stop()
    db.drop()


@pytest.fixture(scope="module")
def own_key(own_stack):
    return own_stack.create_key(WRITE_AND_READ, name="schemathesis")


@pytest.fixture(scope="module")
def own_schema(own_stack):
    loaded = schemathesis.openapi.from_url(f"{own_stack.intake_url}/openapi.json")
    return loaded.exclude(method="GET", path_regex=STREAMS)


def _fuzz(schema, url: str, key: str, examples: int) -> list[str]:
    """Every operation, positive then negative generation; the failures as readable lines."""
    failures = []
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            @settings(max_examples=examples, deadline=None, derandomize=True, database=None,
                      suppress_health_check=list(HealthCheck), phases=[Phase.generate])
            @given(case=operation.as_strategy(generation_mode=mode))
            def run(case):
                case.call_and_validate(base_url=url, headers={"Authorization": f"Bearer {key}"},
                                       checks=[not_a_server_error, response_schema_conformance], timeout=30)

            try:
                run()
            except Unsatisfiable:       # e.g. no invalid input exists for an operation without parameters
                pass
            except (Exception, BaseExceptionGroup) as exc:   # the first failing example of this operation and mode
                failures.append(f"{operation.label} [{mode.value}]: {_summary(exc)}")
    return failures


def _summary(exc: BaseException) -> str:
    parts = [str(exc)[:600]]
    for sub in getattr(exc, "exceptions", ()):
        parts.append(str(sub)[:600])
    return "\n".join(parts)


def test_no_input_gets_a_server_error(own_schema, own_stack, own_key):
    failures = _fuzz(own_schema, own_stack.intake_url, own_key, examples=5)
    assert not failures, "\n\n".join(failures)


@pytest.mark.slow
def test_no_input_gets_a_server_error_long_run(own_schema, own_stack, own_key):
    failures = _fuzz(own_schema, own_stack.intake_url, own_key, examples=200)
    assert not failures, "\n\n".join(failures)
