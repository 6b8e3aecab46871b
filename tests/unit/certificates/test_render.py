"""Render real PDFs and read them back with tools that are not the renderer: pypdf + fontTools
for the glyphs drawn (no .notdef box), pdftotext for text, zbar for the QR code, uharfbuzz
shaping the name on its own as the reference for what a shaped name looks like."""
import io
import subprocess

import pytest
import uharfbuzz as hb
from PIL import Image
from pypdf import PdfReader
from pyzbar.pyzbar import decode

from domain.certificates import fonts, layout, shaping
from domain.certificates.render import CertificateView, Unprintable, render_pdf, render_png
from tests.unit.certificates.pdf_glyphs import drawn_glyphs, notdefs
from tests.unit.certificates.scripts import LONG_NAME, LONG_TITLE, SAMPLES

CERT_ID = "CW-7K3M-9QXP-2D4F-H8RT"
URL = f"https://learn.example.org/v1/certificates/{CERT_ID}/verify"
NAME_SIZES = (16.0, 40.0)             # the name's minimum and design sizes (render.py)


def view(name: str, title: str = "Intro to Algorithms", **kw) -> CertificateView:
    return CertificateView(certificate_id=CERT_ID, learner_name=name, course_title=title,
                           instructor_name="Ada Lovelace", completed_on="2026-11-24", verify_url=URL, **kw)


def pdftotext(pdf: bytes) -> str:
    return subprocess.run(["pdftotext", "-", "-"], input=pdf, capture_output=True, check=True).stdout.decode()


def name_glyphs(pdf: bytes):
    """Glyphs drawn at the name's size: every other text on the page is set at other sizes."""
    sizes = {d.size for d in drawn_glyphs(pdf)}
    name_size = max(s for s in sizes if s != 32.0)      # 32 pt: "Certificate of Completion"
    return [d for d in drawn_glyphs(pdf) if d.size == name_size]


@pytest.mark.parametrize("script", list(SAMPLES))
def test_every_script_is_drawn_without_a_single_notdef_box(script):
    name, title = SAMPLES[script]
    pdf = render_pdf(view(name, title))
    assert drawn_glyphs(pdf), "the oracle read no glyph at all"
    assert notdefs(pdf) == []
    assert f"Certificate ID: {CERT_ID}" in pdftotext(pdf)


def test_the_oracle_sees_a_box_when_a_font_lacks_the_glyph():
    # precondition of the test above: drawing 王 with the Latin font must be caught
    from reportlab.pdfgen import canvas

    fonts.chain()
    buf = io.BytesIO()
    c = canvas.Canvas(buf)
    c.setFont("CwSans", 20)
    c.drawString(10, 10, "a王b")
    c.showPage()
    c.save()
    assert len(notdefs(buf.getvalue())) == 1


def _hb_glyph_count(text: str, font_file: str) -> int:
    face = hb.Face(hb.Blob.from_file_path(str(fonts._find(font_file))))
    buf = hb.Buffer()
    buf.add_str(text)
    buf.guess_segment_properties()
    hb.shape(hb.Font(face), buf, {})
    assert all(info.codepoint for info in buf.glyph_infos)
    return len(buf.glyph_infos)


@pytest.mark.parametrize("text,font_file", [
    ("क्षत्रिय", "NotoSansDevanagari-Bold.ttf"),       # conjuncts: fewer glyphs than characters
    ("রবীন্দ্রনাথ", "NotoSansBengali-Bold.ttf"),
    ("சுப்பிரமணிய", "NotoSansTamil-Bold.ttf"),
    ("مُحَمَّد", "NotoSansArabic-Bold.ttf"),            # harakat kept: one glyph per mark
    ("ภูมิพล", "NotoSansThai-Bold.ttf"),
])
def test_complex_scripts_are_shaped_and_arabic_keeps_its_harakat(text, font_file):
    pdf = render_pdf(view(text))
    drawn = name_glyphs(pdf)
    assert notdefs(pdf) == []
    # the PDF draws exactly as many glyphs as HarfBuzz makes of the name on its own
    assert len(drawn) == _hb_glyph_count(text, font_file)
    if font_file.startswith("NotoSansArabic"):
        # 4 letters and 4 marks (damma, fatha, shadda + fatha, which the font draws as one glyph)
        assert len(drawn) == 7
    elif not font_file.startswith("NotoSansThai"):
        assert len(drawn) < len(text)         # conjuncts and ligatures: the text was shaped


def test_rtl_runs_are_in_visual_order():
    line = shaping.shape_line("Sara سارا Levi לוי", True)
    assert [r.font for r in line.runs if r.text.strip()] == ["CwSans-Bold", "CwArabic-Bold", "CwSans-Bold",
                                                             "CwHebrew-Bold"]
    arabic = shaping.shape_line("مُحَمَّد علي 2024", True)
    assert [r.font for r in arabic.runs] == ["CwArabic-Bold", "CwArabic-Bold"]
    assert len(arabic.runs[0].glyph_ids) == 4          # the number, drawn at the left of an RTL line


@pytest.mark.parametrize("name", ["Anna 𒀀 Smith", "Private \ue000 Use", "ᏣᎳᎩ Smith"])
def test_a_name_no_font_covers_is_refused_with_the_characters_named(name):
    with pytest.raises(Unprintable) as err:
        render_pdf(view(name))
    assert "learner's name" in str(err.value) and "U+" in str(err.value)


def test_long_names_and_titles_wrap_to_at_most_three_readable_lines():
    pdf = render_pdf(view(LONG_NAME, LONG_TITLE))
    assert notdefs(pdf) == []
    drawn = drawn_glyphs(pdf)
    text = " ".join(pdftotext(pdf).split())
    assert "Hohenzollern-Sigmaringen" in text and "Planetary Scale (Spring)" in text
    name_block = layout.fit(LONG_NAME, bold=True, width=841.89 - 160, height=122, size=40, min_size=16)
    title_block = layout.fit(LONG_TITLE, bold=True, width=841.89 - 160, height=84, size=24, min_size=11)
    assert 1 < len(name_block.lines) <= 3 and name_block.size >= 16
    assert 1 < len(title_block.lines) <= 3 and title_block.size >= 11
    # and the PDF draws those lines at those sizes, on that many baselines
    for block in (name_block, title_block):
        at_size = {round(d.y, 1) for d in drawn if abs(d.size - block.size) < 0.01}
        assert len(at_size) == len(block.lines)


def test_a_title_too_long_for_three_lines_is_refused_not_shrunk_away():
    with pytest.raises(Unprintable, match="course title is too long"):
        render_pdf(view("Ada", LONG_TITLE * 3))


def test_short_names_stay_on_one_line_at_the_design_size():
    pdf = render_pdf(view("Ana Lima"))
    assert {d.size for d in drawn_glyphs(pdf)} >= {40.0}


def test_embedded_fonts_are_subsets_of_the_chain():
    reader = PdfReader(io.BytesIO(render_pdf(view("José 李 Müller"))))
    fonts_used = {str(f["/BaseFont"]) for f in reader.pages[0]["/Resources"]["/Font"].values()
                  if "/BaseFont" in f.get_object()}
    assert any("NotoSans-Bold" in f for f in fonts_used) and any("DroidSansFallback" in f for f in fonts_used)


def test_qr_code_in_the_png_preview_points_to_the_verify_url():
    png = render_png(render_pdf(view("Zoë")))
    image = Image.open(io.BytesIO(png))
    assert image.width > image.height                       # landscape
    assert [s.data.decode() for s in decode(image)] == [URL]


@pytest.mark.parametrize("size,expected", [("A4", (841.89, 595.28)), ("Letter", (792.0, 612.0))])
def test_landscape_page_sizes(size, expected):
    box = PdfReader(io.BytesIO(render_pdf(view("Ana"), size))).pages[0].mediabox
    assert (round(float(box.width), 2), round(float(box.height), 2)) == expected


def test_grade_is_printed_only_when_given_and_output_is_deterministic():
    with_grade = render_pdf(view("Ana", grade_text="92.5% (A)"))
    assert "Grade: 92.5% (A)" in pdftotext(with_grade)
    assert "Grade" not in pdftotext(render_pdf(view("Ana")))
    assert render_pdf(view("Ana", grade_text="92.5% (A)")) == with_grade


@pytest.mark.parametrize("script", ["Devanagari (Hindi)", "Bengali", "Tamil", "Thai", "Ethiopic (Amharic)",
                                    "Korean", "Vietnamese", "Emoji"])
def test_shaped_names_copy_out_of_the_pdf_as_typed(script):
    # conjunct and positional glyphs have no character of their own: each line carries its text
    # as ActualText, which pdftotext (poppler) reads instead of the glyphs
    name, title = SAMPLES[script]
    lines = [line.strip() for line in pdftotext(render_pdf(view(name, title))).splitlines()]
    assert name in lines and title in lines


def test_a_long_title_with_no_break_opportunity_wraps_between_letters_at_the_minimum_size():
    thai = "ความรู้เบื้องต้นเกี่ยวกับอัลกอริทึมและโครงสร้างข้อมูลสำหรับวิศวกรซอฟต์แวร์รุ่นใหม่" * 2
    block = layout.fit(thai, bold=True, width=841.89 - 160, height=84, size=24, min_size=11)
    assert block.size == 11 and 1 < len(block.lines) <= 3
    assert "".join(line.text for line in block.lines) == thai           # nothing dropped
    pdf = render_pdf(view("Ada", thai))
    assert notdefs(pdf) == []
