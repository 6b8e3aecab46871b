"""Draw a certificate: a landscape PDF (reportlab, fonts embedded and subset), a vector QR code
(``qrcode``) pointing at the verification URL, and a PNG preview (poppler's ``pdftoppm``).

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

from domain.certificates import fonts

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


def _text(c: canvas.Canvas, text: str, x_center: float, y: float, size: float, *, bold: bool = False,
          max_width: float | None = None, color=INK) -> None:
    """Centred text in any script: shaped, bidi-ordered, split into font runs, shrunk to fit."""
    text_runs = fonts.runs(fonts.visual(text), bold=bold)
    w = fonts.width(text_runs, size)
    if max_width and w > max_width:
        size = size * max_width / w
        w = fonts.width(text_runs, size)
    x = x_center - w / 2
    c.setFillColor(color)
    for font, chunk in text_runs:
        c.setFont(font, size)
        c.drawString(x, y, chunk)
        x += fonts.width([(font, chunk)], size)


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
    _text(c, view.issuer_name.upper(), mid, height - 90, 14, bold=True, color=ACCENT)
    _text(c, "Certificate of Completion", mid, height - 140, 34, bold=True)
    _text(c, "This certifies that", mid, height - 190, 14, color=MUTED)
    _text(c, view.learner_name, mid, height - 245, 40, bold=True, max_width=usable)
    c.setStrokeColor(ACCENT)
    c.line(mid - 220, height - 260, mid + 220, height - 260)
    _text(c, "has successfully completed the course", mid, height - 290, 14, color=MUTED)
    _text(c, view.course_title, mid, height - 330, 24, bold=True, max_width=usable)
    details = [f"Instructor: {view.instructor_name}" if view.instructor_name else "",
               f"Completed on {view.completed_on}"]
    if view.grade_text:
        details.append(f"Grade: {view.grade_text}")
    _text(c, "   ·   ".join(d for d in details if d), mid, height - 370, 13, max_width=usable)
    # footer: id + verification URL on the left, QR on the right
    _text(c, f"Certificate ID: {view.certificate_id}", 60 + 170, 80, 11, bold=True)
    _text(c, f"Verify: {view.verify_url}", 60 + 170, 62, 8, color=MUTED, max_width=340)
    qr_size = 110
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
