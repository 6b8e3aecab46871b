"""An oracle independent of the renderer: read a PDF back with pypdf, open each embedded
TrueType subset with fontTools, and list every glyph the page's text operators draw, with the
character the font's ToUnicode map gives for it.

A box ("tofu") is a code drawn with glyph 0 (``.notdef``), with a copy of glyph 0's outline
(a subset may carry the original ``.notdef`` under another index), or a visible character drawn
with an empty glyph."""
from __future__ import annotations

import io
import re
import unicodedata
from dataclasses import dataclass

from fontTools.ttLib import TTFont
from pypdf import PdfReader
from pypdf.generic import ContentStream


@dataclass(frozen=True)
class Drawn:
    font: str          # the embedded font's /BaseFont (subset tag + PostScript name)
    size: float
    y: float           # baseline of the text object (Tm)
    glyph_id: int
    char: str          # from the ToUnicode map ("" when it has none)
    box: bool          # drawn as .notdef / empty box


def _to_unicode(font_obj) -> dict[int, str]:
    """The bfchar / bfrange entries of a ToUnicode CMap (single-byte codes)."""
    if "/ToUnicode" not in font_obj:
        return {}
    text = font_obj["/ToUnicode"].get_object().get_data().decode("latin-1")
    out: dict[int, str] = {}
    for block in re.findall(r"beginbfchar(.*?)endbfchar", text, re.S):
        for code, uni in re.findall(r"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f ]+)>", block):
            uni = uni.replace(" ", "")
            # UTF-16BE as the PDF spec says; reportlab writes a code point above U+FFFF as plain hex
            out[int(code, 16)] = (bytes.fromhex(uni).decode("utf-16-be", "replace") if len(uni) % 4 == 0
                                  else chr(int(uni, 16)))
    for block in re.findall(r"beginbfrange(.*?)endbfrange", text, re.S):
        for lo, hi, start in re.findall(r"<(\w+)>\s*<(\w+)>\s*<(\w+)>", block):
            first = ord(bytes.fromhex(start).decode("utf-16-be"))
            for i, code in enumerate(range(int(lo, 16), int(hi, 16) + 1)):
                out[code] = chr(first + i)
    return out


def _code_map(font_obj) -> tuple[str, dict[int, tuple[int, bool]], dict[int, str]]:
    base = str(font_obj["/BaseFont"])
    descriptor = font_obj.get("/FontDescriptor")
    if descriptor is None or "/FontFile2" not in descriptor.get_object():
        return base, {}, {}                   # a standard font (Helvetica): no embedded program
    ttf = TTFont(io.BytesIO(descriptor.get_object()["/FontFile2"].get_data()))
    order = ttf.getGlyphOrder()
    glyf = ttf["glyf"]
    notdef = glyf[order[0]].compile(glyf)

    def shape(name: str) -> tuple[int, bool]:
        gid = order.index(name)
        g = glyf[name]
        empty = g.numberOfContours == 0
        return gid, gid == 0 or (not empty and g.compile(glyf) == notdef)

    codes: dict[int, tuple[int, bool]] = {}
    empties: set[int] = set()
    for table in ttf["cmap"].tables:
        for code, name in table.cmap.items():
            code = code & 0xFF if table.platformID == 3 and table.platEncID == 0 else code
            codes.setdefault(code, shape(name))
            if glyf[name].numberOfContours == 0:
                empties.add(code)
    uni = _to_unicode(font_obj)
    return base, codes, {c: uni.get(c, "") for c in empties}


def drawn_glyphs(pdf: bytes) -> list[Drawn]:
    reader = PdfReader(io.BytesIO(pdf))
    out: list[Drawn] = []
    for page in reader.pages:
        fonts = {name: _code_map(obj.get_object()) for name, obj in page["/Resources"]["/Font"].items()}
        font, size, y = None, 0.0, 0.0
        for operands, op in ContentStream(page.get_contents(), reader).operations:
            if op == b"Tf":
                font, size = fonts[operands[0]], float(operands[1])
            elif op == b"Tm":
                y = float(operands[5])
            elif op in (b"Tj", b"TJ", b"'", b'"'):
                items = operands[0] if op == b"TJ" else operands[-1:]
                for item in items:
                    if isinstance(item, bytes):
                        raw = bytes(item)
                    elif hasattr(item, "get_original_bytes"):
                        raw = item.get_original_bytes()
                    else:
                        continue                      # a TJ position adjustment
                    base, codes, empty_chars = font
                    if not codes:
                        continue
                    for byte in raw:
                        gid, box = codes.get(byte, (0, True))
                        char = empty_chars.get(byte)
                        if char is not None and _visible(char):
                            box = True                # a visible character drawn with an empty glyph
                        out.append(Drawn(base, size, y, gid, char or "", box))
    return out


def _visible(text: str) -> bool:
    return any(not (ch.isspace() or unicodedata.category(ch) in ("Cf", "Mn", "Co")) for ch in text) or not text


def notdefs(pdf: bytes) -> list[Drawn]:
    return [d for d in drawn_glyphs(pdf) if d.box]
