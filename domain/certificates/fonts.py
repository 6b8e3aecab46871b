"""Fonts for learner names in any script, and text shaping for right-to-left scripts.

A fallback chain of TrueType fonts from Debian packages: each character is drawn with the first
font that has a glyph for it, so one name may mix scripts. Arabic is shaped with arabic-reshaper
(contextual presentation forms) and every RTL string is put in visual order with python-bidi,
because reportlab draws glyphs left to right without OpenType shaping.

CJK: the Noto Sans CJK fonts ship as OpenType/CFF collections (.ttc), which reportlab cannot
embed; Droid Sans Fallback (fonts-droid-fallback) is a TrueType font covering Chinese and Japanese,
Nanum Gothic (fonts-nanum) one covering Korean Hangul.
"""
from __future__ import annotations

import threading
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import arabic_reshaper
from bidi.algorithm import get_display
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

FONT_DIRS = ("/usr/share/fonts/truetype/noto", "/usr/share/fonts/truetype/droid",
             "/usr/share/fonts/truetype/nanum", "/usr/share/fonts/truetype/dejavu")
PACKAGES = "fonts-noto-core fonts-droid-fallback fonts-nanum fonts-dejavu-core"

# (registered name, regular file, bold file); order = preference
CHAIN = (
    ("CwSans", "NotoSans-Regular.ttf", "NotoSans-Bold.ttf"),                 # Latin, Greek, Cyrillic
    ("CwArabic", "NotoSansArabic-Regular.ttf", "NotoSansArabic-Bold.ttf"),
    ("CwHebrew", "NotoSansHebrew-Regular.ttf", "NotoSansHebrew-Bold.ttf"),
    ("CwCJK", "DroidSansFallbackFull.ttf", "DroidSansFallbackFull.ttf"),     # Chinese, Japanese
    ("CwKorean", "NanumGothic.ttf", "NanumGothicBold.ttf"),                   # Korean Hangul
    ("CwDejaVu", "DejaVuSans.ttf", "DejaVuSans-Bold.ttf"),                   # symbols, other scripts
)


class FontMissing(RuntimeError):
    pass


@dataclass(frozen=True)
class LoadedFont:
    name: str
    glyphs: frozenset[int]


_lock = threading.Lock()
_loaded: dict[bool, list[LoadedFont]] = {}


def _find(filename: str) -> Path:
    for folder in FONT_DIRS:
        path = Path(folder) / filename
        if path.is_file():
            return path
    raise FontMissing(f"font {filename} not found in {', '.join(FONT_DIRS)}: "
                      f"install it with 'apt-get install {PACKAGES}'")


def chain(bold: bool = False) -> list[LoadedFont]:
    """Register the chain with reportlab once per process and return it."""
    with _lock:
        if bold not in _loaded:
            fonts = []
            for base, regular, heavy in CHAIN:
                name = f"{base}-Bold" if bold else base
                font = TTFont(name, str(_find(heavy if bold else regular)))
                pdfmetrics.registerFont(font)
                fonts.append(LoadedFont(name, frozenset(font.face.charToGlyph)))
            _loaded[bold] = fonts
        return _loaded[bold]


def has_rtl(text: str) -> bool:
    return any(unicodedata.bidirectional(ch) in ("R", "AL") for ch in text)


def visual(text: str) -> str:
    """Logical order → the order glyphs are drawn left to right (Arabic shaped first)."""
    if not has_rtl(text):
        return text
    return get_display(arabic_reshaper.reshape(text))


def runs(text: str, bold: bool = False) -> list[tuple[str, str]]:
    """Split already-visual text into (font name, text) runs by glyph coverage."""
    fonts = chain(bold)
    out: list[tuple[str, str]] = []
    for ch in text:
        current = out[-1][0] if out else None
        if ch.isspace() or unicodedata.category(ch) in ("Mn", "Cf"):
            pick = current or fonts[0].name       # spaces and marks stay with their neighbour
        else:
            cp = ord(ch)
            pick = next((f.name for f in fonts if cp in f.glyphs), fonts[-1].name)
        if out and out[-1][0] == pick:
            out[-1] = (pick, out[-1][1] + ch)
        else:
            out.append((pick, ch))
    return out


def uncovered(text: str) -> set[str]:
    """Characters no font in the chain can draw (shown as empty boxes)."""
    fonts = chain(False)
    return {ch for ch in visual(text) if not ch.isspace() and unicodedata.category(ch) not in ("Mn", "Cf")
            and not any(ord(ch) in f.glyphs for f in fonts)}


def width(text_runs: list[tuple[str, str]], size: float) -> float:
    return sum(pdfmetrics.stringWidth(t, font, size) for font, t in text_runs)
