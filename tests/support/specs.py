"""Vendored specifications (tests/specs/, see its README) as validators."""
from __future__ import annotations

import functools
import hashlib
import json
from pathlib import Path

from jsonschema import Draft201909Validator

SPECS = Path(__file__).resolve().parent.parent / "specs"
OB3_SCHEMA_SHA256 = "859e405b592d93c3261fe899362f4128801140d4d20c01502a066b3540483d95"


@functools.cache
def ob3_achievement_credential() -> Draft201909Validator:
    """The 1EdTech OB 3.0 AchievementCredential schema, with format checking on."""
    raw = (SPECS / "ob_v3p0_achievementcredential_schema.json").read_bytes()
    assert hashlib.sha256(raw).hexdigest() == OB3_SCHEMA_SHA256, "the vendored OB 3.0 schema was changed"
    schema = json.loads(raw)
    Draft201909Validator.check_schema(schema)
    validator = Draft201909Validator(schema, format_checker=Draft201909Validator.FORMAT_CHECKER)
    # precondition: format checking is really on (it is silently off without its helper packages)
    assert not Draft201909Validator({"format": "date-time"}, format_checker=Draft201909Validator.FORMAT_CHECKER) \
        .is_valid("2026-11-24"), "jsonschema cannot check date-time formats: install jsonschema[format]"
    return validator


def ob3_errors(credential: dict) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
            for e in ob3_achievement_credential().iter_errors(credential)]
