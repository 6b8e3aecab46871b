"""Regenerate the generated parts of README.md: the configuration table (from celeryconfig.py),
the family sections (docs/families/<family>.md) and the operations section.

    .venv/bin/python docs/build_readme.py
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

ORDER = ["video", "sandbox", "grading", "certificates", "notifications", "tutor", "analytics"]


def block(name: str, text: str, readme: str) -> str:
    begin, end = f"<!-- BEGIN:{name} -->", f"<!-- END:{name} -->"
    new = f"{begin}\n{text.rstrip()}\n{end}"
    pattern = re.compile(re.escape(begin) + ".*?" + re.escape(end), re.S)
    if pattern.search(readme):
        return pattern.sub(lambda _m: new, readme)
    return readme.replace(f"<!-- {name} -->", new)


def demote(text: str) -> str:
    """Family sections sit under "## Job families": push their headings one level down."""
    out, fence = [], False
    for line in text.splitlines():
        if line.startswith("```"):
            fence = not fence
        out.append("#" + line if line.startswith("#") and not fence else line)
    return "\n".join(out)


def main() -> None:
    from cli.config_table import markdown

    readme = (ROOT / "README.md").read_text()
    readme = block("CONFIG-TABLE", markdown(), readme)
    fam_dir = ROOT / "docs" / "families"
    families = "## Job families\n\n" + "\n\n".join(
        demote((fam_dir / f"{f}.md").read_text().strip()) for f in ORDER if (fam_dir / f"{f}.md").exists())
    readme = block("FAMILY-SECTIONS", families, readme)
    ops = fam_dir / "operations.md"
    if ops.exists():
        readme = block("OPERATIONS", ops.read_text(), readme)
    (ROOT / "README.md").write_text(readme)


if __name__ == "__main__":
    main()
