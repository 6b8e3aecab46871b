"""Draw a certificate: a landscape PDF (reportlab, text shaped by HarfBuzz, fonts embedded and
subset), a vector QR code (``qrcode``) pointing at the verification URL, and a PNG preview
(poppler's ``pdftoppm``).

Output is deterministic for the same input (reportlab ``invariant`` mode), so a rerun writes the
same bytes under the same storage key."""
from __future__ import annotations

import io
import subprocess
from dataclasses import dataclass

import qrcode
from reportlab.lib.colors import HexColor
from reportlab.lib.pagesizes import A4, landscape, letter
from reportlab.pdfgen import canvas

from domain.certificates import fonts, layout, shaping

PAGE_SIZES = {"A4": landscape(A4), "Letter": landscape(letter)}
INK = HexColor("#1f2a44")
ACCENT = HexColor("#b08d2f")
MUTED = HexColor("#5b6475")


@dataclass(frozen=True)
class CertificateView:
    """Everything printed on the page."""

    certificate_id: str
    learner_name: str
    course_title: str
    instructor_name: str
    completed_on: str                 # e.g. "2026-11-24"
    verify_url: str
    grade_text: str | None = None     # e.g. "92.5% (A)" when the course shows grades
    issuer_name: str = "Coursework"


class RenderError(RuntimeError):
    pass


class Unprintable(ValueError):
    """The certificate cannot be printed right (a character no font draws, text too long): a
    permanent error, never a certificate with empty boxes."""


def _draw_line(c: canvas.Canvas, line: shaping.Line, x_center: float, y: float, size: float, color) -> None:
    """One shaped line, centred. Wrapped in a marked-content span whose ``ActualText`` is the line
    as typed: shaped glyphs (conjuncts, positional forms, reordered vowel signs) have no text of
    their own, so copy, search and screen readers read the span's text instead."""
    x = x_center - line.advance * size / 2
    c.setFillColor(color)
    c.addLiteral(f"/Span <</ActualText <FEFF{line.text.encode('utf-16-be').hex().upper()}>>> BDC")
    for run in line.runs:
        c.setFont(run.font, size)
        if run.synthetic_bold:            # no bold file for this script: fill and stroke the outline
            c.setStrokeColor(color)
            c.setLineWidth(size * 0.03)
            c.drawString(x, y, run.text, mode=2)
        else:
            c.drawString(x, y, run.text)
        x += run.advance * size
    c.addLiteral("EMC")


def _block(c: canvas.Canvas, text: str, x_center: float, top: float, *, width: float, height: float,
           size: float, min_size: float, bold: bool = False, max_lines: int = 3, color=INK,
           what: str = "text") -> float:
    """Draw ``text`` wrapped into the box below ``top``, centred in it; returns the box's bottom."""
    try:
        block = layout.fit(text, bold=bold, width=width, height=height, size=size, min_size=min_size,
                           max_lines=max_lines, what=what)
    except fonts.Uncovered as exc:
        raise Unprintable(f"the {what} cannot be printed: {exc}") from None
    except layout.TooLong as exc:
        raise Unprintable(str(exc)) from None
    step = block.size * layout.LEADING
    # centre the lines vertically in the box; the baseline sits ~0.8 of a size under a line's top
    y = top - (height - block.height) / 2 - step + (step - block.size) / 2 + block.size * 0.2
    for line in block.lines:
        _draw_line(c, line, x_center, y, block.size, color)
        y -= step
    return top - height


def _label(c: canvas.Canvas, text: str, x_center: float, y: float, size: float, *, bold: bool = False,
           width: float = 10_000, color=INK, what: str = "text") -> None:
    """One line at ``size``, shrunk to ``width`` if it must (fixed labels, ids, URLs)."""
    try:
        line = shaping.shape_line(text, bold)
    except fonts.Uncovered as exc:
        raise Unprintable(f"the {what} cannot be printed: {exc}") from None
    _draw_line(c, line, x_center, y, min(size, width / line.advance) if line.advance else size, color)


def _qr(c: canvas.Canvas, data: str, x: float, y: float, size: float) -> None:
    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=2)
    qr.add_data(data)
    qr.make(fit=True)
    matrix = qr.get_matrix()           # includes the quiet-zone border
    n = len(matrix)
    cell = size / n
    c.setFillColorRGB(1, 1, 1)
    c.rect(x, y, size, size, stroke=0, fill=1)
    c.setFillColorRGB(0, 0, 0)
    path = c.beginPath()
    for row, cells in enumerate(matrix):
        for col, dark in enumerate(cells):
            if dark:
                path.rect(x + col * cell, y + size - (row + 1) * cell, cell, cell)
    c.drawPath(path, stroke=0, fill=1)


def render_pdf(view: CertificateView, page_size: str = "A4") -> bytes:
    """The certificate as PDF bytes. Raises ``Unprintable`` when it cannot be printed right."""
    if page_size not in PAGE_SIZES:
        raise RenderError(f"unknown page size {page_size!r}; use one of {', '.join(PAGE_SIZES)}")
    width, height = PAGE_SIZES[page_size]
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=(width, height), invariant=1, pageCompression=1)
    c.setTitle(f"Certificate {view.certificate_id}")
    c.setAuthor(view.issuer_name)
    c.setSubject(view.verify_url)
    # frame
    c.setStrokeColor(ACCENT)
    c.setLineWidth(4)
    c.rect(24, 24, width - 48, height - 48)
    c.setLineWidth(1)
    c.rect(34, 34, width - 68, height - 68)
    mid = width / 2
    usable = width - 160
    top = height - 56
    _label(c, view.issuer_name.upper(), mid, top - 14, 14, bold=True, color=ACCENT, width=usable)
    _label(c, "Certificate of Completion", mid, top - 60, 32, bold=True)
    _label(c, "This certifies that", mid, top - 96, 14, color=MUTED)
    bottom = _block(c, view.learner_name, mid, top - 106, width=usable, height=122, size=40, min_size=16,
                    bold=True, what="learner's name")
    c.setStrokeColor(ACCENT)
    c.line(mid - 220, bottom - 6, mid + 220, bottom - 6)
    _label(c, "has successfully completed the course", mid, bottom - 32, 14, color=MUTED)
    bottom = _block(c, view.course_title, mid, bottom - 42, width=usable, height=84, size=24, min_size=11,
                    bold=True, what="course title")
    details = [f"Instructor: {view.instructor_name}" if view.instructor_name else "",
               f"Completed on {view.completed_on}"]
    if view.grade_text:
        details.append(f"Grade: {view.grade_text}")
    _block(c, "\u2002·\u2002".join(d for d in details if d), mid, bottom - 6, width=usable - 240, height=34,
           size=13, min_size=9, max_lines=2, color=INK, what="instructor's name")
    # footer: id + verification URL on the left, QR on the right
    _label(c, f"Certificate ID: {view.certificate_id}", 60 + 170, 80, 11, bold=True)
    _label(c, f"Verify: {view.verify_url}", 60 + 170, 62, 8, color=MUTED, width=340)
    qr_size = 100
    _qr(c, view.verify_url, width - 60 - qr_size, 50, qr_size)
    c.showPage()
    c.save()
    return buf.getvalue()


def render_png(pdf: bytes, dpi: int = 96, timeout: float = 60.0) -> bytes:
    """First page as PNG (poppler-utils ``pdftoppm``)."""
    try:
        out = subprocess.run(["pdftoppm", "-png", "-r", str(dpi), "-singlefile", "-"], input=pdf,
                             capture_output=True, timeout=timeout, check=True)
    except FileNotFoundError as exc:
        raise RenderError("pdftoppm not found: install it with 'apt-get install poppler-utils'") from exc
    except subprocess.CalledProcessError as exc:
        raise RenderError(f"pdftoppm failed: {exc.stderr.decode(errors='replace')[:500]}") from exc
    return out.stdout
