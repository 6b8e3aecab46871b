"""Regenerate the generated documentation: docs/configuration.md, from celeryconfig.py's Settings,
and the families table of docs/family-guide.md, from domain/registry.py and the families' kinds.

    .venv/bin/python docs/build.py
"""
from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    from cli import config_table, family_table

    (ROOT / "docs" / "configuration.md").write_text(config_table.markdown())
    guide = ROOT / "docs" / "family-guide.md"
    guide.write_text(family_table.replace_in(guide.read_text()))


if __name__ == "__main__":
    main()
