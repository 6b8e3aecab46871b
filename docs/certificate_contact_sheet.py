"""Render a certificate for a name in every script and put the name and title band of each on
one PNG, to look at: docs/certificates-contact-sheet.png.

    .venv/bin/python docs/certificate_contact_sheet.py [--dpi 56] [--out docs/certificates-contact-sheet.png]
"""
from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    from PIL import Image, ImageDraw, ImageFont

    from domain.certificates.fonts import _find
    from domain.certificates.render import CertificateView, render_pdf, render_png
    from tests.unit.certificates.scripts import SAMPLES

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dpi", type=int, default=56)
    ap.add_argument("--out", default=str(ROOT / "docs" / "certificates-contact-sheet.png"))
    args = ap.parse_args()

    scale = args.dpi / 72
    band = (int(40 * scale), int(128 * scale), None, int(412 * scale))    # left, top, right, bottom (px)
    label_font = ImageFont.truetype(str(_find("NotoSans-Bold.ttf")), max(11, int(14 * scale)))
    tiles = []
    for label, (name, title) in SAMPLES.items():
        view = CertificateView("CW-7K3M-9QXP-2D4F-H8RT", name, title, "Ada Lovelace", "2026-11-24",
                               "https://learn.example.org/v1/certificates/CW-7K3M-9QXP-2D4F-H8RT/verify")
        page = Image.open(io.BytesIO(render_png(render_pdf(view), args.dpi))).convert("RGB")
        crop = page.crop((band[0], band[1], page.width - band[0], band[3]))
        ImageDraw.Draw(crop).text((8, 6), label, fill=(176, 60, 40), font=label_font)
        tiles.append(crop)
    cols = 2
    w, h = tiles[0].size
    sheet = Image.new("RGB", (cols * w + (cols + 1) * 8, -(-len(tiles) // cols) * (h + 8) + 8), "white")
    for i, tile in enumerate(tiles):
        sheet.paste(tile, (8 + (i % cols) * (w + 8), 8 + (i // cols) * (h + 8)))
        ImageDraw.Draw(sheet).rectangle((8 + (i % cols) * (w + 8) - 1, 8 + (i // cols) * (h + 8) - 1,
                                         8 + (i % cols) * (w + 8) + w, 8 + (i // cols) * (h + 8) + h),
                                        outline=(200, 200, 200))
    sheet.convert("P", palette=Image.Palette.ADAPTIVE, colors=64).save(args.out, optimize=True)
    print(f"{len(tiles)} scripts -> {args.out}")


if __name__ == "__main__":
    main()
