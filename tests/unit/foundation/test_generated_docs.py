"""The generated parts of the docs are current: what docs/build.py would write is what is there."""
from __future__ import annotations

from pathlib import Path

from cli import config_table, family_table

DOCS = Path(__file__).resolve().parents[3] / "docs"


def test_the_configuration_page_lists_every_setting_as_celeryconfig_declares_it():
    page = DOCS / "configuration.md"
    assert page.is_file()
    assert page.read_text() == config_table.markdown(), "run: .venv/bin/python docs/build.py"


def test_the_family_guide_lists_every_family_of_the_registry():
    from domain.registry import FAMILIES

    guide = (DOCS / "family-guide.md").read_text()
    assert family_table.BEGIN in guide and family_table.END in guide
    assert guide == family_table.replace_in(guide), "run: .venv/bin/python docs/build.py"
    table = guide.split(family_table.BEGIN)[1].split(family_table.END)[0]
    assert [line.split("|")[1].strip() for line in table.strip().splitlines()[2:]] == list(FAMILIES)
