"""Render a notification for one recipient: subject, plain text and HTML (Jinja2 files)."""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

from domain.notifications import types

TEMPLATE_DIR = Path(__file__).parent / "templates"


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


@lru_cache(maxsize=1)
def environment() -> Environment:
    return Environment(loader=FileSystemLoader(TEMPLATE_DIR), autoescape=select_autoescape(["html"]),
                       trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)


@lru_cache(maxsize=64)
def _subject_template(source: str):
    return Environment(autoescape=False).from_string(source)


def subject(type_name: str, data: dict) -> str:
    text = _subject_template(types.get(type_name).subject).render(**data)
    return " ".join(text.split())[:300] or type_name.replace("_", " ").capitalize()


def render(type_name: str, *, user: dict, data: dict, link: str | None = None,
           unsubscribe_url: str | None = None, title: str | None = None) -> Rendered:
    env = environment()
    ctx = {**data, "user": user, "link": link, "unsubscribe_url": unsubscribe_url, "type": type_name}
    if title is not None:
        ctx.setdefault("title", title)
    return Rendered(subject=title or subject(type_name, ctx),
                    text=env.get_template(f"{type_name}.txt").render(**ctx),
                    html=env.get_template(f"{type_name}.html").render(**ctx))
