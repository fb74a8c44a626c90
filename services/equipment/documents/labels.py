"""QR codes and labels: one label as PNG for a 62 mm thermal printer, or A4 sheets as PDF."""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import TYPE_CHECKING

import segno

if TYPE_CHECKING:
    from PIL import ImageFont

from .data import (
    FONT_BOLD,
    FONT_CODE,
    FONT_CONDENSED,
    LABEL_MM,
    MIN_MODULE_MM,
    MM_PER_INCH,
    QR_BORDER,
    QR_ERROR,
    LabelData,
)
from .i18n import KIND_LABEL, _dash, _e

# --- QR codes -----------------------------------------------------------------------------------


def _qr(payload: str) -> segno.QRCode:
    if not payload:
        raise ValueError("the QR payload is empty")
    return segno.make(payload, error=QR_ERROR, micro=False)


def _qr_svg(payload: str, side_mm: float) -> str:
    """An inline SVG QR code (quiet zone included) at most ``side_mm`` wide, its modules on a
    0.01 mm grid."""
    qr = _qr(payload)
    modules = qr.symbol_size(border=QR_BORDER)[0]
    scale = int(side_mm / modules * 100) / 100
    if scale < MIN_MODULE_MM:
        raise ValueError(
            f"the QR payload is too long: modules would be {scale} mm (at least {MIN_MODULE_MM} mm); shorten it"
        )
    return qr.svg_inline(scale=scale, border=QR_BORDER, unit="mm", svgclass="qr", lineclass=None)


# --- one label as PNG ---------------------------------------------------------------------------


def _font(path: str, size_px: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    from PIL import ImageFont

    try:
        return ImageFont.truetype(path, size_px)
    except OSError:
        return ImageFont.load_default(size_px)


def _line_height(font: ImageFont.FreeTypeFont | ImageFont.ImageFont) -> int:
    if hasattr(font, "getmetrics"):  # FreeType: ascent + descent
        ascent, descent = font.getmetrics()
        return int(ascent + descent)
    return int(font.getbbox("Ag")[3])


def _fit(text: str, font: ImageFont.FreeTypeFont | ImageFont.ImageFont, width: int) -> str:
    """``text`` cut with an ellipsis so that it is at most ``width`` pixels wide."""
    if font.getlength(text) <= width:
        return text
    low, high = 0, len(text)
    while low < high:  # the longest prefix that fits with the ellipsis
        mid = (low + high + 1) // 2
        if font.getlength(text[:mid].rstrip() + "…") <= width:
            low = mid
        else:
            high = mid - 1
    return text[:low].rstrip() + "…"


def label_png(label: LabelData, dpi: int = 300) -> bytes:
    """One 62 × 29 mm label, as a grayscale PNG at ``dpi``: the QR code on the left, the short
    code in large type, the kind, make and model, the donor and the asset tag on the right."""
    from PIL import Image, ImageDraw

    if dpi < 50:
        raise ValueError(f"dpi must be at least 50, not {dpi}")

    def px(mm: float) -> int:
        return round(mm / MM_PER_INCH * dpi)

    def pt(points: float) -> int:
        return max(round(points / 72 * dpi), 6)

    width, height = px(LABEL_MM[0]), px(LABEL_MM[1])
    image = Image.new("L", (width, height), 255)

    # The QR code fills the label's height; its quiet zone is the label's left and top margin.
    qr = _qr(label.qr_payload)
    modules = qr.symbol_size(border=QR_BORDER)[0]
    scale = (height - px(1)) // modules
    if scale * MM_PER_INCH / dpi < MIN_MODULE_MM:
        raise ValueError(f"the QR payload is too long for a {LABEL_MM[1]:g} mm label at {dpi} dpi; shorten it")
    buffer = io.BytesIO()
    qr.save(buffer, kind="png", scale=scale, border=QR_BORDER)
    code = Image.open(io.BytesIO(buffer.getvalue())).convert("L")
    image.paste(code, (0, (height - code.height) // 2))

    draw = ImageDraw.Draw(image)
    left = code.width  # the quiet zone separates the QR code from the text
    text_width = width - left - px(2)
    kind = KIND_LABEL.get(label.kind, label.kind)
    make_model = " ".join(part for part in (label.make.strip(), label.model.strip()) if part)
    lines: list[tuple[str, ImageFont.FreeTypeFont | ImageFont.ImageFont, int]] = [
        ("PASSERELLE", _font(FONT_BOLD, pt(6)), px(1.2)),
        (label.short_code, _font(FONT_CODE, pt(15)), px(1.6)),
        (kind, _font(FONT_BOLD, pt(8)), px(0.6)),
        (make_model or "—", _font(FONT_CONDENSED, pt(8)), px(1.4)),
        (label.donor or "—", _font(FONT_CONDENSED, pt(7)), px(0.6)),
        (f"Inv. {label.asset_tag}" if label.asset_tag else "", _font(FONT_CONDENSED, pt(7)), 0),
    ]
    # The short code is what people read: a smaller size rather than an ellipsis.
    code_font = lines[1][1]
    size = pt(15)
    while code_font.getlength(label.short_code) > text_width and size > pt(8):
        size -= 1
        code_font = _font(FONT_CODE, size)
    lines[1] = (label.short_code, code_font, lines[1][2])

    heights = [_line_height(font) for _, font, _ in lines]
    total = sum(heights) + sum(gap for _, _, gap in lines)
    y = max((height - total) // 2, px(1))
    for (text, font, gap), line_height in zip(lines, heights, strict=True):
        if text:
            draw.text((left, y), _fit(text, font, text_width), font=font, fill=0, anchor="la")
        y += line_height + gap

    out = io.BytesIO()
    image.save(out, format="PNG", dpi=(dpi, dpi), optimize=True)
    return out.getvalue()


# --- a sheet of labels as PDF -------------------------------------------------------------------

# A 3 × 8 A4 sheet of 63.5 × 33.9 mm labels (the layout of Avery L7159 / J8159 and equivalents).
SHEET_COLUMNS, SHEET_ROWS = 3, 8
SHEET_LABEL_MM = (63.5, 33.9)
SHEET_MARGIN_MM = (12.9, 7.25)  # top, left
SHEET_GAP_MM = 2.5  # between columns
SHEET_QR_MM = 29.0  # quiet zone included: 0.7 mm modules for a 33-module (version 4) code

_SHEET_CSS = f"""
@page {{ size: A4; margin: {SHEET_MARGIN_MM[0]}mm {SHEET_MARGIN_MM[1]}mm 10mm {SHEET_MARGIN_MM[1]}mm; }}
body {{ margin: 0; font-family: "DejaVu Sans", "Liberation Sans", Arial, sans-serif; color: #000; }}
.sheet {{ display: grid; grid-template-columns: repeat({SHEET_COLUMNS}, {SHEET_LABEL_MM[0]}mm);
  grid-auto-rows: {SHEET_LABEL_MM[1]}mm; column-gap: {SHEET_GAP_MM}mm; row-gap: 0;
  break-after: page; page-break-after: always; }}
.sheet:last-child {{ break-after: auto; page-break-after: auto; }}
.label {{ display: flex; align-items: center; overflow: hidden; box-sizing: border-box;
  break-inside: avoid; page-break-inside: avoid; }}
.guides .label {{ outline: 0.2pt dashed #999; outline-offset: -0.1pt; }}
.label svg.qr {{ flex: none; display: block; }}
.text {{ flex: 1; min-width: 0; padding-right: 2mm; line-height: 1.2; }}
.text div {{ white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }}
.brand {{ font-size: 5.5pt; font-weight: bold; letter-spacing: 0.3pt; margin-bottom: 0.8mm; }}
.code {{ font-family: "DejaVu Sans Mono", monospace; font-weight: bold; font-size: 13pt; margin-bottom: 1mm; }}
.kind {{ font-size: 7.5pt; font-weight: bold; }}
.model {{ font-size: 7.5pt; margin-bottom: 1mm; }}
.model, .donor, .tag {{ font-stretch: condensed; }}
.donor, .tag {{ font-size: 6.5pt; }}
"""


def _sheet_label(label: LabelData) -> str:
    kind = KIND_LABEL.get(label.kind, label.kind)
    make_model = " ".join(part for part in (label.make.strip(), label.model.strip()) if part)
    tag = f"Inv. {_e(label.asset_tag)}" if label.asset_tag else "&#160;"
    return (
        f'<div class="label" id="d-{_e(label.device_id)}">{_qr_svg(label.qr_payload, SHEET_QR_MM)}'
        '<div class="text"><div class="brand">PASSERELLE</div>'
        f'<div class="code">{_e(label.short_code)}</div>'
        f'<div class="kind">{_dash(kind)}</div><div class="model">{_dash(make_model)}</div>'
        f'<div class="donor">{_dash(label.donor)}</div><div class="tag">{tag}</div></div></div>'
    )


def labels_html(labels: Sequence[LabelData], *, guides: bool = False) -> str:
    """The label sheets as one HTML document (24 labels a page); ``guides`` outlines every label,
    to cut them out of plain paper."""
    per_page = SHEET_COLUMNS * SHEET_ROWS
    sheets = [
        '<div class="sheet">' + "".join(_sheet_label(x) for x in labels[i : i + per_page]) + "</div>"
        for i in range(0, len(labels), per_page)
    ]
    body_class = ' class="guides"' if guides else ""
    return (
        '<!DOCTYPE html>\n<html lang="fr">\n<head>\n<meta charset="utf-8">\n'
        f"<title>Passerelle — étiquettes / etiketten</title>\n<style>{_SHEET_CSS}</style>\n</head>\n"
        f"<body{body_class}>\n" + "\n".join(sheets) + "\n</body>\n</html>\n"
    )


def _pdf(html: str) -> bytes:
    import weasyprint  # imported here: it loads Pango at import time, and only the PDFs need it

    return weasyprint.HTML(string=html).write_pdf()


def labels_pdf(labels: Sequence[LabelData], *, guides: bool = False) -> bytes:
    """An A4 PDF of label sheets, 3 columns × 8 rows a page, as many pages as needed."""
    if not labels:
        raise ValueError("no labels to print")
    return _pdf(labels_html(labels, guides=guides))
