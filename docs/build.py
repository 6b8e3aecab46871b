"""Regenerate the generated documentation: docs/configuration.md, from celeryconfig.py's Settings.

    .venv/bin/python docs/build.py
"""
from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    from cli.config_table import markdown

    (ROOT / "docs" / "configuration.md").write_text(markdown())


if __name__ == "__main__":
    main()
