"""/docs (Swagger UI) and /redoc render every operation in headless Chromium with the network
outside loopback unreachable: their assets come from the intake itself."""
from __future__ import annotations

import re
import shutil
import subprocess
import tempfile

import httpx
import pytest

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run",
                  # every host but loopback fails to resolve: a CDN asset would not load
                  "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"]


def rendered_dom(url: str) -> str:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.fail("chromium is missing: bash bin/setup installs it (apt-get install chromium)", pytrace=False)
    with tempfile.TemporaryDirectory() as profile:
        out = subprocess.run([chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}",
                              "--virtual-time-budget=30000", "--dump-dom", url],
                             capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout


@pytest.fixture(scope="module")
def documented(intake):
    spec = httpx.get(f"{intake}/openapi.json", timeout=30).json()
    ops = {(m, p): op for p, item in spec["paths"].items() for m, op in item.items()}
    assert len(ops) > 30
    return spec, ops


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_the_docs_pages_load_nothing_from_outside(intake, page):
    html = httpx.get(f"{intake}{page}", timeout=30).text
    assert re.findall(r'(?:src|href)=["\'](https?:)?//', html) == []
    assets = re.findall(r'(?:src|href)=["\'](/[^"\']+)', html)
    assert assets, html
    for asset in assets:
        assert httpx.get(f"{intake}{asset}", timeout=30).status_code == 200, asset


def test_swagger_ui_renders_every_operation_and_the_authorize_button(intake, documented):
    spec, ops = documented
    dom = rendered_dom(f"{intake}/docs")
    shown = set(re.findall(r'data-path="([^"]+)"', dom))
    assert shown == set(spec["paths"]), set(spec["paths"]) ^ shown
    assert "btn authorize" in dom


def test_redoc_renders_every_operation(intake, documented):
    _spec, ops = documented
    dom = rendered_dom(f"{intake}/redoc")
    missing = [op["summary"] for op in ops.values() if op["summary"] not in dom.replace("&amp;", "&")]
    assert not missing
