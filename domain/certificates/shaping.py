"""One line of text in any script → glyph runs in visual order, shaped by HarfBuzz.

1. Bidi levels per character (Unicode bidi algorithm, python-bidi).
2. Font per grapheme cluster (``fonts.pick``); runs of one font and one level.
3. Each run shaped by HarfBuzz (``uharfbuzz``) in its direction: conjuncts, matras, Thai and
   Arabic mark placement, Arabic joining, ligatures, kerning.
4. Runs reordered for display (rule L2); HarfBuzz already gives an RTL run's glyphs left to right.

A run is handed to reportlab as its ``ShapedStr`` (reportlab's own type for HarfBuzz output):
glyph ids mapped to characters of the font (glyphs without a character of their own get private
use code points, as reportlab's shaper does), with HarfBuzz's advances and offsets.
"""
from __future__ import annotations

import functools
import threading
import unicodedata
from dataclasses import dataclass

import uharfbuzz as hb
from bidi import algorithm as uba
from reportlab.pdfbase.ttfonts import ShapeData, ShapedStr
from uniseg.graphemecluster import grapheme_clusters

from domain.certificates import fonts
from domain.certificates.fonts import LoadedFont, Uncovered

_private_lock = threading.Lock()     # reportlab's private code point table is per font, shared
_hb_fonts: dict[str, hb.Font] = {}
_hb_lock = threading.Lock()
_RTL_CLASSES = ("R", "AL")


@dataclass(frozen=True)
class Run:
    font: str                # registered reportlab font name
    text: ShapedStr          # what reportlab draws
    advance: float           # width in em (multiply by the font size for points)
    glyph_ids: tuple[int, ...]
    synthetic_bold: bool = False


@dataclass(frozen=True)
class Line:
    text: str
    runs: tuple[Run, ...]

    @property
    def advance(self) -> float:
        return sum(r.advance for r in self.runs)


def is_rtl(text: str) -> bool:
    """Paragraph direction: that of the first strong character (rule P2)."""
    for ch in text:
        kind = unicodedata.bidirectional(ch)
        if kind == "L":
            return False
        if kind in _RTL_CLASSES:
            return True
    return False


def levels(text: str, rtl: bool) -> list[int]:
    """Resolved embedding level of each character (rules X1-I2)."""
    storage = uba.get_empty_storage()
    storage["base_level"] = 1 if rtl else 0
    storage["base_dir"] = "R" if rtl else "L"
    uba.get_embedding_levels(text, storage, False, False)
    uba.explicit_embed_and_overrides(storage, False)
    uba.resolve_weak_types(storage, False)
    uba.resolve_neutral_types(storage, False)
    uba.resolve_implicit_levels(storage, False)
    kept = iter(storage["chars"])         # characters removed by rule X9 take their neighbour's level
    out, last = [], storage["base_level"]
    for ch in text:
        if unicodedata.bidirectional(ch) in uba.X9_REMOVED:
            out.append(last)
        else:
            last = next(kept)["level"]
            out.append(last)
    return out


def _hb_font(font: LoadedFont) -> hb.Font:
    with _hb_lock:
        if font.name not in _hb_fonts:
            _hb_fonts[font.name] = hb.Font(font.ttf.hbFace)
            font.ttf.hbFont()            # sets up reportlab's private code point table
        return _hb_fonts[font.name]


def _shape(text: str, font: LoadedFont, rtl: bool) -> Run:
    hbf = _hb_font(font)
    buf = hb.Buffer()
    buf.add_str(text)
    buf.guess_segment_properties()
    buf.direction = "rtl" if rtl else "ltr"
    buf.cluster_level = hb.BufferClusterLevel.MONOTONE_CHARACTERS
    # no Latin "fi"/"fl" ligatures: copied or searched text stays "fi" (required ligatures, such as
    # Arabic lam-alef, and the Indic conjunct features are not "liga" and stay on)
    hb.shape(hbf, buf, {"kern": True, "liga": False})
    ttf = font.ttf
    face = ttf.face
    chars, data, gids, total = [], [], [], 0.0
    with _private_lock:
        for info, pos in zip(buf.glyph_infos, buf.glyph_positions):
            gid = info.codepoint
            gids.append(gid)
            uchar = _char_for(face, gid, text[info.cluster]) \
                or ttf.hbAddPrivate(hbf.glyph_to_string(gid), gid, pos.x_advance)
            advance = ttf.pdfScale(pos.x_advance)
            total += advance
            chars.append(chr(uchar))
            data.append(ShapeData(info.cluster, advance, ttf.pdfScale(pos.y_advance), ttf.pdfScale(pos.x_offset),
                                  ttf.pdfScale(pos.y_offset), face.charWidths[uchar]))
    if 0 in gids:
        raise Uncovered(text, [ch for ch in text if not fonts.invisible(ch)])
    return Run(font.name, ShapedStr("".join(chars), shapeData=data), total / 1000.0, tuple(gids),
               font.synthetic_bold)


def _char_for(face, gid: int, source: str) -> int | None:
    """The character reportlab draws ``gid`` through: the source character when it maps to that
    glyph, else a printable one mapped to it (a font may map U+0000 and the space to one glyph:
    the PDF's text layer would read U+0000); None for a glyph no character maps to."""
    if face.charToGlyph.get(ord(source)) == gid:
        return ord(source)
    mapped = face.glyphToChar.get(gid)
    if not mapped:
        return None
    return next((cp for cp in mapped if cp >= 0x20 and not 0x7F <= cp < 0xA0), mapped[0])


def _visual(items: list[tuple[int, Run]]) -> list[Run]:
    """Rule L2: from the highest level to the lowest odd one, reverse runs at that level or above."""
    if not items:
        return []
    order = list(items)
    top = max(level for level, _ in order)
    lowest_odd = min((level for level, _ in order if level % 2), default=top + 1)
    for level in range(top, lowest_odd - 1, -1):
        i = 0
        while i < len(order):
            if order[i][0] >= level:
                j = i
                while j < len(order) and order[j][0] >= level:
                    j += 1
                order[i:j] = order[i:j][::-1]
                i = j
            else:
                i += 1
    return [run for _, run in order]


@functools.lru_cache(maxsize=4096)
def shape_line(text: str, bold: bool = False, rtl: bool | None = None) -> Line:
    """Shape one line; ``rtl`` is the paragraph direction (default: from its first strong character).

    Raises ``fonts.Uncovered`` when a character has no font (no ``.notdef`` box is ever drawn)."""
    chain = fonts.chain(bold)
    rtl = is_rtl(text) if rtl is None else rtl
    lv = levels(text, rtl)
    pieces: list[tuple[LoadedFont, int, str]] = []
    current, i = None, 0
    for cluster in grapheme_clusters(text):
        font = fonts.pick(cluster, chain, current)
        if font is None:
            fonts.check(text)              # names every character that is missing
            raise Uncovered(text, list(cluster))
        level = lv[i]
        if pieces and pieces[-1][0] is font and pieces[-1][1] == level:
            pieces[-1] = (font, level, pieces[-1][2] + cluster)
        else:
            pieces.append((font, level, cluster))
        current, i = font, i + len(cluster)
    return Line(text, tuple(_visual([(level, _shape(chunk, font, bool(level % 2)))
                                      for font, level, chunk in pieces])))
