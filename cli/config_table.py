"""``coursework config``: every setting, its environment variable, default and current value.
``--markdown`` prints the README's configuration table (generated, so it stays true)."""
from __future__ import annotations

import ast
from pathlib import Path

import celeryconfig


def _comments() -> dict[str, tuple[str, str]]:
    """field name -> (section, trailing comment) read from celeryconfig.py's Settings class."""
    src = Path(celeryconfig.__file__).read_text()
    lines = src.splitlines()
    out, section = {}, ""
    tree = ast.parse(src)
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Settings")
    for node in cls.body:
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            for ln in range(node.lineno - 1, 0, -1):    # nearest section header above
                text = lines[ln - 1].strip()
                if text.startswith("# ---"):
                    section = text.strip("# -").split("(")[0].strip()
                    break
            line = lines[node.lineno - 1]
            comment = line.split("#", 1)[1].strip() if "#" in line.split("=", 1)[-1] else ""
            out[node.target.id] = (section, comment)
    return out


def rows() -> list[tuple[str, str, str, str]]:
    meta = _comments()
    result = []
    for name, field in celeryconfig.Settings.model_fields.items():
        section, comment = meta.get(name, ("", ""))
        default = field.default
        if name == "database_url":
            default = "sqlite:///./.coursework/coursework.db"
        elif name == "storage_url":
            default = "local://./.coursework/storage"
        result.append((section, f"COURSEWORK_{name.upper()}", "" if default is None else str(default), comment))
    return result


def markdown() -> str:
    out = ["## Configuration", "",
           "Every setting is an environment variable read in `celeryconfig.py` (the one place for "
           "configuration; `coursework config` prints the current values). Celery's own settings "
           "(queues, routes, `acks_late`, `task_reject_on_worker_lost`, prefetch 1, JSON only) are "
           "derived there from these.", "",
           "| area | variable | default | meaning |", "|---|---|---|---|"]
    for section, var, default, comment in rows():
        out.append(f"| {section} | `{var}` | `{default}` | {comment} |")
    return "\n".join(out) + "\n"


def register(sub) -> None:
    p = sub.add_parser("config", help="print every setting (env var, default, current value)")
    p.add_argument("--markdown", action="store_true")
    p.set_defaults(fn=run)


def run(args) -> int:
    if args.markdown:
        print(markdown())
        return 0
    current = celeryconfig.settings.model_dump()
    for _section, var, _default, _comment in rows():
        name = var.removeprefix("COURSEWORK_").lower()
        value = current[name]
        if any(s in name for s in ("secret", "password", "api_key", "signing_key")) and value:
            value = "***"
        print(f"{var}={value}")
    return 0
