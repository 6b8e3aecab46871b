"""The font chain for names and titles in any script.

Each grapheme cluster (a letter with its marks, an emoji sequence) is drawn with the first font
of the chain that has a glyph for every visible character of it, so one name may mix scripts;
spaces and punctuation stay in the font of the text around them. Text is then shaped with
HarfBuzz (``shaping.py``). All fonts are TrueType (glyf) files from Debian packages, which
reportlab embeds as subsets: the Noto Sans CJK fonts ship as OpenType/CFF collections that
reportlab cannot embed, hence Droid Sans Fallback (Chinese, Japanese) and Nanum Gothic (Korean);
emoji are drawn in monochrome with Symbola.
"""
from __future__ import annotations

import threading
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

FONT_DIRS = ("/usr/share/fonts/truetype/noto", "/usr/share/fonts/truetype/droid",
             "/usr/share/fonts/truetype/nanum", "/usr/share/fonts/truetype/ancient-scripts",
             "/usr/share/fonts/truetype/dejavu")
PACKAGES = "fonts-noto-core fonts-droid-fallback fonts-nanum fonts-symbola fonts-dejavu-core"

HANGUL = ((0x1100, 0x11FF), (0x3130, 0x318F), (0xA960, 0xA97F), (0xAC00, 0xD7FF))


@dataclass(frozen=True)
class Face:
    name: str                     # registered name (``-Bold`` added for the bold face)
    regular: str
    bold: str | None              # None: the regular file stands in
    only: tuple[tuple[int, int], ...] = ()   # code point ranges this font is used for; () = all it has


# order = preference; script-specific fonts before the broad fallbacks
CHAIN = (
    Face("CwSans", "NotoSans-Regular.ttf", "NotoSans-Bold.ttf"),              # Latin, Greek, Cyrillic
    Face("CwArmenian", "NotoSansArmenian-Regular.ttf", "NotoSansArmenian-Bold.ttf"),
    Face("CwGeorgian", "NotoSansGeorgian-Regular.ttf", "NotoSansGeorgian-Bold.ttf"),
    Face("CwHebrew", "NotoSansHebrew-Regular.ttf", "NotoSansHebrew-Bold.ttf"),
    Face("CwArabic", "NotoSansArabic-Regular.ttf", "NotoSansArabic-Bold.ttf"),
    Face("CwDevanagari", "NotoSansDevanagari-Regular.ttf", "NotoSansDevanagari-Bold.ttf"),
    Face("CwBengali", "NotoSansBengali-Regular.ttf", "NotoSansBengali-Bold.ttf"),
    Face("CwTamil", "NotoSansTamil-Regular.ttf", "NotoSansTamil-Bold.ttf"),
    Face("CwThai", "NotoSansThai-Regular.ttf", "NotoSansThai-Bold.ttf"),
    Face("CwEthiopic", "NotoSansEthiopic-Regular.ttf", "NotoSansEthiopic-Bold.ttf"),
    Face("CwKorean", "NanumGothic.ttf", "NanumGothicBold.ttf", only=HANGUL),
    Face("CwCJK", "DroidSansFallbackFull.ttf", None),                        # Chinese, Japanese
    Face("CwSymbols", "NotoSansSymbols-Regular.ttf", "NotoSansSymbols-Bold.ttf"),
    Face("CwSymbols2", "NotoSansSymbols2-Regular.ttf", None),
    Face("CwEmoji", "Symbola_hint.ttf", None),                               # emoji, monochrome
    Face("CwDejaVu", "DejaVuSans.ttf", "DejaVuSans-Bold.ttf"),               # what is left
)


class FontMissing(RuntimeError):
    pass


class Uncovered(ValueError):
    """Text with characters no font of the chain can draw: printing it would show empty boxes."""

    def __init__(self, text: str, missing: list[str]):
        self.text, self.missing = text, missing
        shown = ", ".join(f"U+{ord(ch):04X} {unicodedata.name(ch, '?')} ({ch})" for ch in missing[:8])
        more = f" and {len(missing) - 8} more" if len(missing) > 8 else ""
        super().__init__(f"no font can draw {len(missing)} character(s) of {text!r}: {shown}{more}")


@dataclass(frozen=True)
class LoadedFont:
    name: str
    ttf: TTFont
    glyphs: frozenset[int]
    only: tuple[tuple[int, int], ...]
    synthetic_bold: bool = False      # a bold face drawn from the regular file: stroked to look bold

    def covers(self, cp: int) -> bool:
        return cp in self.glyphs and (not self.only or any(lo <= cp <= hi for lo, hi in self.only))


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
            for face in CHAIN:
                name = f"{face.name}-Bold" if bold else face.name
                ttf = TTFont(name, str(_find((face.bold or face.regular) if bold else face.regular)), shapable=True)
                pdfmetrics.registerFont(ttf)
                fonts.append(LoadedFont(name, ttf, frozenset(ttf.face.charToGlyph), face.only,
                                        synthetic_bold=bold and face.bold is None))
            _loaded[bold] = fonts
        return _loaded[bold]


def invisible(ch: str) -> bool:
    """Characters that take no glyph of their own: spaces, joiners, variation selectors, marks of
    direction. HarfBuzz hides the default-ignorable ones when a font has no glyph for them."""
    cp = ord(ch)
    return (ch.isspace() or unicodedata.category(ch) == "Cf" or 0xFE00 <= cp <= 0xFE0F
            or 0xE0100 <= cp <= 0xE01EF or 0xE0000 <= cp <= 0xE007F)


def neutral(ch: str) -> bool:
    """Spaces, punctuation and digits: they stay in the font of the text around them."""
    return unicodedata.bidirectional(ch) in ("WS", "ON", "CS", "ES", "ET", "EN", "BN", "S", "B")


def pick(cluster: str, fonts: list[LoadedFont], current: LoadedFont | None) -> LoadedFont | None:
    """The font for one grapheme cluster, or None when no font covers it."""
    visible = [ord(ch) for ch in cluster if not invisible(ch)]
    if current is not None and all(neutral(ch) or invisible(ch) for ch in cluster) \
            and all(current.covers(cp) for cp in visible):
        return current
    return next((f for f in fonts if all(f.covers(cp) for cp in visible)), None)


def uncovered(text: str) -> list[str]:
    """Characters of ``text`` that no font in the chain can draw (they would print as boxes)."""
    from uniseg.graphemecluster import grapheme_clusters

    fonts = chain(False)
    missing: list[str] = []
    for cluster in grapheme_clusters(text):
        if pick(cluster, fonts, None) is None:
            for ch in cluster:
                if not invisible(ch) and not any(f.covers(ord(ch)) for f in fonts) and ch not in missing:
                    missing.append(ch)
            if not missing:        # each character has a font, but not one font for them all
                missing.extend(ch for ch in cluster if not invisible(ch) and ch not in missing)
    return missing


def check(text: str) -> None:
    """Raise ``Uncovered`` when some character of ``text`` cannot be drawn."""
    missing = uncovered(text)
    if missing:
        raise Uncovered(text, missing)
