"""TypeScript types generated from the OpenAPI document with openapi-typescript (npm), and a
small web-tier example type-checked against them with tsc. ``src/errors.ts`` holds lines tsc
must refuse (``@ts-expect-error``): were the types loose (``any``), tsc would fail on them."""
from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.openapi import spec

TS = Path(__file__).resolve().parents[3] / "clients" / "typescript"


def _bin(name: str) -> str:
    path = TS / "node_modules" / ".bin" / name
    if not path.exists():
        pytest.fail(f"{path.relative_to(TS.parents[1])} is missing: bash bin/setup installs the npm packages "
                    "of clients/typescript (npm ci)", pytrace=False)
    return str(path)


def test_generated_types_type_check_the_example(tmp_path):
    (tmp_path / "openapi.json").write_text(json.dumps(spec()))
    work = tmp_path / "ts"
    shutil.copytree(TS / "src", work / "src", ignore=shutil.ignore_patterns("schema.d.ts"))
    shutil.copy(TS / "tsconfig.json", work / "tsconfig.json")
    gen = subprocess.run([_bin("openapi-typescript"), str(tmp_path / "openapi.json"), "--default-non-nullable=false",
                          "-o", str(work / "src" / "schema.d.ts")], capture_output=True, text=True, timeout=180)
    assert gen.returncode == 0, gen.stdout + gen.stderr
    schema = (work / "src" / "schema.d.ts").read_text()
    assert '"/v1/jobs": {' in schema and 'kind: "transcode"' in schema
    check = subprocess.run([_bin("tsc"), "--noEmit", "-p", str(work)], capture_output=True, text=True, timeout=180)
    assert check.returncode == 0, check.stdout + check.stderr

