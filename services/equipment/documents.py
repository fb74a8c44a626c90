"""Printable documents of the equipment service: a device's label (a PNG for a 62 mm thermal label
printer, or an A4 sheet of labels as PDF), both with a QR code, and the bilingual (French then
Dutch) NIST SP 800-88 Rev. 1 sanitisation certificate of a wiped device, as HTML and PDF.

Pure functions: no database, no network. Every text from the data goes through ``html.escape``
(or, in the certificate's PDF, into an escaped PDF string). Deterministic: the same input gives
byte-identical files (WeasyPrint writes no date metadata unless the HTML asks for it; the
certificate's PDF, written directly with pydyf, has no dates and a content-derived identifier),
so a certificate's SHA-256 (``sha256``) can be recorded on an event and checked again by
re-rendering.

QR codes come from segno (error correction M, a 4-module quiet zone included in the image); a
module is never smaller than ``MIN_MODULE_MM`` (0.4 mm), below which phone cameras and
hand scanners struggle: a payload too long for that raises ``ValueError``."""

from __future__ import annotations

import hashlib
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from html import escape
from typing import TYPE_CHECKING, Literal

import segno

if TYPE_CHECKING:
    from PIL import ImageFont

Language = Literal["fr", "nl"]
LANGUAGES: tuple[Language, ...] = ("fr", "nl")

MM_PER_INCH = 25.4
LABEL_MM = (62.0, 29.0)  # a common continuous thermal label (e.g. Brother DK-22205 cut at 29 mm)
MIN_MODULE_MM = 0.4
QR_ERROR = "m"
QR_BORDER = 4  # the quiet zone the QR specification asks for, in modules

FONT_DIR = "/usr/share/fonts/truetype/dejavu/"
FONT_REGULAR = FONT_DIR + "DejaVuSans.ttf"
FONT_BOLD = FONT_DIR + "DejaVuSans-Bold.ttf"
FONT_CONDENSED = FONT_DIR + "DejaVuSansCondensed.ttf"  # the long lines: make and model, donor
FONT_CODE = FONT_DIR + "DejaVuSansMono-Bold.ttf"  # fixed width: "0"/"O" and "1"/"I" stay distinct


@dataclass(frozen=True)
class LabelData:
    device_id: str
    short_code: str  # what people read and type, e.g. "PSR-7K3F9Q"
    kind: str  # a device kind code (laptop, desktop, …) or a free text
    make: str
    model: str
    donor: str
    asset_tag: str  # the donor's inventory number
    qr_payload: str  # what the QR code encodes, e.g. "passerelle:device:<uuid>"


@dataclass(frozen=True)
class MediumRecord:
    """One NIST SP 800-88 sanitisation record of one storage medium."""

    medium_id: str
    medium_type: str  # hdd, ssd, nvme, emmc, … or a free text
    capacity_gb: int | None
    serial: str
    method: str  # clear | purge | destroy
    tool: str
    tool_version: str
    passes: int
    verification: str  # full | sample | none, or a free text
    operator: str
    started_at: datetime
    ended_at: datetime
    result: str  # passed | failed | passed_with_warnings
    warnings: str


@dataclass(frozen=True)
class CertificateData:
    certificate_id: str
    device_id: str
    short_code: str
    kind: str
    make: str
    model: str
    serial: str
    donor: str
    refurbisher: str  # the organisation that sanitised the device
    issued_on: date
    records: tuple[MediumRecord, ...]
    qr_payload: str = ""  # what the certificate's QR encodes; empty: the device id


def sha256(content: bytes) -> str:
    """The hexadecimal SHA-256 digest of ``content`` (what the certificate event records)."""
    return hashlib.sha256(content).hexdigest()


# --- labels of codes ----------------------------------------------------------------------------

KIND: dict[Language, dict[str, str]] = {
    "fr": {
        "laptop": "ordinateur portable",
        "desktop": "ordinateur de bureau",
        "tablet": "tablette",
        "chromebook": "Chromebook",
        "screen": "écran",
        "other": "autre",
    },
    "nl": {
        "laptop": "laptop",
        "desktop": "desktop",
        "tablet": "tablet",
        "chromebook": "Chromebook",
        "screen": "scherm",
        "other": "ander",
    },
}
# On a label (read in both languages), the kind in one short word where possible.
KIND_LABEL = {
    "laptop": "Laptop",
    "desktop": "Desktop",
    "tablet": "Tablette / Tablet",
    "chromebook": "Chromebook",
    "screen": "Écran / Scherm",
    "other": "Autre / Andere",
}
MEDIUM_TYPE: dict[Language, dict[str, str]] = {
    "fr": {
        "hdd": "disque dur (HDD)",
        "ssd": "SSD",
        "nvme": "SSD NVMe",
        "emmc": "eMMC",
        "usb": "clé USB",
        "sd": "carte SD",
    },
    "nl": {
        "hdd": "harde schijf (HDD)",
        "ssd": "SSD",
        "nvme": "NVMe-SSD",
        "emmc": "eMMC",
        "usb": "USB-stick",
        "sd": "SD-kaart",
    },
}
METHOD: dict[Language, dict[str, str]] = {
    "fr": {"clear": "effacement (clear)", "purge": "purge", "destroy": "destruction"},
    "nl": {"clear": "wissen (clear)", "purge": "purge", "destroy": "vernietiging"},
}
RESULT: dict[Language, dict[str, str]] = {
    "fr": {"passed": "réussi", "failed": "échoué", "passed_with_warnings": "réussi avec avertissements"},
    "nl": {"passed": "geslaagd", "failed": "mislukt", "passed_with_warnings": "geslaagd met waarschuwingen"},
}
VERIFICATION: dict[Language, dict[str, str]] = {
    "fr": {"full": "complète", "sample": "par échantillonnage", "none": "aucune"},
    "nl": {"full": "volledig", "sample": "steekproef", "none": "geen"},
}
MONTHS: dict[Language, tuple[str, ...]] = {
    "fr": (
        "janvier",
        "février",
        "mars",
        "avril",
        "mai",
        "juin",
        "juillet",
        "août",
        "septembre",
        "octobre",
        "novembre",
        "décembre",
    ),
    "nl": (
        "januari",
        "februari",
        "maart",
        "april",
        "mei",
        "juni",
        "juli",
        "augustus",
        "september",
        "oktober",
        "november",
        "december",
    ),
}

TEXT: dict[Language, dict[str, str]] = {
    "fr": {
        "title": "Certificat d'effacement des données",
        "subtitle": "Assainissement des supports de stockage selon NIST SP 800-88 Rev. 1",
        "certificate": "Certificat n°",
        "issued_on": "Émis le",
        "device": "Appareil",
        "device_id": "Identifiant Passerelle",
        "short_code": "Code",
        "kind": "Type",
        "make_model": "Marque et modèle",
        "serial": "Numéro de série",
        "donor": "Donateur",
        "refurbisher": "Reconditionneur",
        "refurbisher_note": "organisation qui a effacé les données",
        "media": "Supports de stockage",
        "medium": "Support",
        "medium_type": "Type",
        "capacity": "Capacité",
        "medium_id": "Identifiant du support",
        "method": "Méthode",
        "tool": "Outil et version",
        "passes": "Passes",
        "verification": "Vérification",
        "operator": "Opérateur",
        "result": "Résultat",
        "started_at": "Début",
        "ended_at": "Fin",
        "warnings": "Avertissements",
        "no_media": "Cet appareil ne contient aucun support de stockage : aucun effacement n'était nécessaire.",
        "all_passed": "Tous les supports de stockage de cet appareil ont été assainis avec succès.",
        "not_all_passed": "Attention : au moins un support de stockage n'a pas été assaini avec succès "
        "(échec ou avertissements). Cet appareil ne peut pas être redistribué en l'état.",
        "statement": "Le présent certificat atteste que les supports de stockage de l'appareil décrit "
        "ci-dessus ont été traités conformément aux lignes directrices NIST SP 800-88 Rev. 1 "
        '(<i lang="en">Guidelines for Media Sanitization</i>), avec la méthode, l\'outil et le résultat '
        "indiqués pour chacun d'eux.",
        "hash_note": "L'empreinte SHA-256 de ce document est enregistrée dans Passerelle, "
        "ce qui permet d'en vérifier l'authenticité.",
        "gb": "Go",
        "page": "Page",
    },
    "nl": {
        "title": "Certificaat van gegevensverwijdering",
        "subtitle": "Sanering van opslagmedia volgens NIST SP 800-88 Rev. 1",
        "certificate": "Certificaat nr.",
        "issued_on": "Uitgereikt op",
        "device": "Toestel",
        "device_id": "Passerelle-ID",
        "short_code": "Code",
        "kind": "Type",
        "make_model": "Merk en model",
        "serial": "Serienummer",
        "donor": "Schenker",
        "refurbisher": "Herconditioneerder",
        "refurbisher_note": "organisatie die de gegevens heeft gewist",
        "media": "Opslagmedia",
        "medium": "Medium",
        "medium_type": "Type",
        "capacity": "Capaciteit",
        "medium_id": "ID van het medium",
        "method": "Methode",
        "tool": "Tool en versie",
        "passes": "Doorgangen",
        "verification": "Verificatie",
        "operator": "Operator",
        "result": "Resultaat",
        "started_at": "Begin",
        "ended_at": "Einde",
        "warnings": "Waarschuwingen",
        "no_media": "Dit toestel bevat geen opslagmedia: er moesten geen gegevens worden gewist.",
        "all_passed": "Alle opslagmedia van dit toestel werden met succes gesaneerd.",
        "not_all_passed": "Let op: minstens één opslagmedium werd niet met succes gesaneerd "
        "(mislukt of met waarschuwingen). Dit toestel mag niet in deze staat worden herverdeeld.",
        "statement": "Dit certificaat bevestigt dat de opslagmedia van het hierboven beschreven toestel "
        "werden behandeld volgens de richtlijnen NIST SP 800-88 Rev. 1 "
        '(<i lang="en">Guidelines for Media Sanitization</i>), met de methode, de tool en het resultaat '
        "die voor elk medium vermeld zijn.",
        "hash_note": "De SHA-256-vingerafdruk van dit document is geregistreerd in Passerelle, "
        "zodat de echtheid ervan kan worden gecontroleerd.",
        "gb": "GB",
        "page": "Pagina",
    },
}


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def _dash(text: str) -> str:
    """Escaped, or an em dash when empty."""
    return _e(text) if text.strip() else "—"


def _label(table: dict[Language, dict[str, str]], lang: Language, code: str) -> str:
    return table[lang].get(code, code)


def _check_language(language: str) -> Language:
    if language not in LANGUAGES:
        raise ValueError(f"language must be one of {', '.join(LANGUAGES)}, not {language!r}")
    return language  # type: ignore[return-value]


def _fmt_date(day: date, lang: Language) -> str:
    return f"{day.day} {MONTHS[lang][day.month - 1]} {day.year}"


def _fmt_datetime(moment: datetime, lang: Language) -> str:
    """Aware datetimes in UTC (the same text on every machine, as the annual report does)."""
    zone = ""
    if moment.tzinfo is not None:
        moment, zone = moment.astimezone(UTC), " UTC"
    day = f"{moment.day:02d}/{moment.month:02d}/{moment.year}" if lang == "fr" else moment.strftime("%d-%m-%Y")
    return f"{day} {moment:%H:%M:%S}{zone}"


def _fmt_capacity(capacity_gb: int | None, lang: Language) -> str:
    if capacity_gb is None:
        return "—"
    separator = "\u202f" if lang == "fr" else "."
    return f"{capacity_gb:,}".replace(",", separator) + " " + TEXT[lang]["gb"]


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


# --- the sanitisation certificate ---------------------------------------------------------------

_CERT_CSS = """
@page { size: A4; margin: 12mm 15mm 15mm 15mm;
  @bottom-left { content: "{{FOOTER}}"; font: 7.5pt "DejaVu Sans", "Liberation Sans", Arial, sans-serif;
    color: #555; }
  @bottom-right { content: "{{PAGE}} " counter(page) " / " counter(pages);
    font: 7.5pt "DejaVu Sans", "Liberation Sans", Arial, sans-serif; color: #555; } }
body { font-family: "DejaVu Sans", "Liberation Sans", Arial, sans-serif; font-size: 8.5pt; line-height: 1.3;
  color: #1a1a1a; margin: 0 auto; max-width: 180mm; overflow-wrap: break-word; }
section.certificate + section.certificate { break-before: page; page-break-before: always; }
header { display: flex; align-items: flex-start; border-bottom: 1.5pt solid #0b3d6b; padding-bottom: 2mm;
  margin-bottom: 2mm; }
header .heading { flex: 1; min-width: 0; }
header .qr { flex: none; text-align: center; font: bold 8pt "DejaVu Sans Mono", monospace; margin-left: 4mm; }
header .qr svg { display: block; }
h1 { font-size: 16pt; margin: 0 0 1mm; color: #0b3d6b; }
.subtitle { font-size: 9.5pt; margin: 0 0 2mm; color: #333; }
.ref { margin: 0.5mm 0; font-size: 9.5pt; }
h2 { font-size: 11pt; margin: 4mm 0 1.5mm; color: #0b3d6b; break-after: avoid; page-break-after: avoid; }
h3 { font-size: 9pt; margin: 2.5mm 0 1mm; break-after: avoid; page-break-after: avoid; }
table { border-collapse: collapse; width: 100%; table-layout: fixed; font-size: 8pt; margin: 0 0 1.5mm; }
th, td { border: 0.5pt solid #c8c8c8; padding: 0.6mm 1.5mm; text-align: left; vertical-align: top;
  overflow-wrap: anywhere; word-wrap: break-word; }
th { background: #eef2f6; font-weight: bold; color: #333; }
table.device th { width: 32%; }
table.medium th { width: 19%; } table.medium td { width: 31%; }
table.medium { break-inside: avoid; page-break-inside: avoid; }
.mono { font-family: "DejaVu Sans Mono", monospace; font-size: 7.5pt; }
.note { color: #555; font-size: 8pt; }
.warnings { white-space: pre-line; }
.passed { color: #1b5e20; font-weight: bold; }
.failed { color: #b71c1c; font-weight: bold; }
.passed_with_warnings { color: #a85d00; font-weight: bold; }
.outcome { border: 1pt solid #c8c8c8; border-left: 4pt solid #1b5e20; padding: 1.5mm 3mm; margin: 3mm 0 2mm;
  font-weight: bold; }
.outcome.bad { border-left-color: #b71c1c; color: #b71c1c; }
.statement { margin: 2mm 0; }
.issued { margin: 3mm 0 1mm; }
"""


def _latest_by_medium(records: Sequence[MediumRecord]) -> dict[str, MediumRecord]:
    """The latest record of every medium (by end time; on a tie, the later one in the list)."""
    latest: dict[str, MediumRecord] = {}
    for _, record in sorted(enumerate(records), key=lambda pair: (_sort_key(pair[1].ended_at), pair[0])):
        latest[record.medium_id] = record
    return latest


def _sort_key(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo is not None else moment


def _medium(number: int, count: int, record: MediumRecord, lang: Language) -> str:
    t = TEXT[lang]
    kind = _label(MEDIUM_TYPE, lang, record.medium_type)
    result = f'<span class="{_e(record.result)}">{_e(_label(RESULT, lang, record.result))}</span>'
    tool = " ".join(part for part in (record.tool.strip(), record.tool_version.strip()) if part)
    rows = [
        (t["medium_type"], _dash(kind), t["capacity"], _fmt_capacity(record.capacity_gb, lang)),
        (t["serial"], f'<span class="mono">{_dash(record.serial)}</span>', t["medium_id"],
         f'<span class="mono">{_dash(record.medium_id)}</span>'),
        (t["method"], _e(_label(METHOD, lang, record.method)), t["passes"],
         str(record.passes) if record.passes > 0 else "—"),
        (t["tool"], _dash(tool), t["verification"], _dash(_label(VERIFICATION, lang, record.verification))),
        (t["started_at"], _fmt_datetime(record.started_at, lang), t["ended_at"], _fmt_datetime(record.ended_at, lang)),
        (t["operator"], _dash(record.operator), t["result"], result),
    ]  # fmt: skip
    body = "".join(f"<tr><th>{a}</th><td>{b}</td><th>{c}</th><td>{d}</td></tr>" for a, b, c, d in rows)
    body += f'<tr><th>{t["warnings"]}</th><td colspan="3" class="warnings">{_dash(record.warnings)}</td></tr>'
    return (
        f'<h3>{t["medium"]} {number} / {count} — {_dash(kind)}</h3><table class="medium"><tbody>{body}</tbody></table>'
    )


def _certificate_section(cert: CertificateData, lang: Language) -> str:
    t = TEXT[lang]
    make_model = " ".join(part for part in (cert.make.strip(), cert.model.strip()) if part)
    device = [
        (t["device_id"], f'<span class="mono">{_dash(cert.device_id)}</span>'),
        (t["short_code"], f'<span class="mono">{_dash(cert.short_code)}</span>'),
        (t["kind"], _dash(_label(KIND, lang, cert.kind))),
        (t["make_model"], _dash(make_model)),
        (t["serial"], f'<span class="mono">{_dash(cert.serial)}</span>'),
        (t["donor"], _dash(cert.donor)),
        (t["refurbisher"], f'{_dash(cert.refurbisher)} <span class="note">({t["refurbisher_note"]})</span>'),
    ]
    latest = _latest_by_medium(cert.records)
    if not cert.records:
        outcome = f'<p class="outcome">{t["no_media"]}</p>'
    elif all(r.result == "passed" for r in latest.values()):
        outcome = f'<p class="outcome">{t["all_passed"]}</p>'
    else:
        outcome = f'<p class="outcome bad">{t["not_all_passed"]}</p>'
    parts = [
        f'<section class="certificate" lang="{lang}">',
        '<header><div class="heading">',
        f"<h1>{t['title']}</h1>",
        f'<p class="subtitle">{t["subtitle"]}</p>',
        f'<p class="ref">{t["certificate"]} <strong class="mono">{_dash(cert.certificate_id)}</strong></p>',
        f'<p class="ref">{t["issued_on"]} {_fmt_date(cert.issued_on, lang)}</p>',
        '</div><div class="qr">',
        _qr_svg(cert.qr_payload or cert.device_id, 25),
        f"{_e(cert.short_code)}</div></header>",
        f"<h2>{t['device']}</h2>",
        '<table class="device"><tbody>'
        + "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in device)
        + "</tbody></table>",
        f"<h2>{t['media']}</h2>",
    ]
    parts += [_medium(i, len(cert.records), r, lang) for i, r in enumerate(cert.records, start=1)]
    parts += [
        outcome,
        f'<p class="statement">{t["statement"]}</p>',
        f'<p class="issued">{t["issued_on"]} {_fmt_date(cert.issued_on, lang)} — {_dash(cert.refurbisher)}</p>',
        f'<p class="note">{t["hash_note"]}</p>',
        "</section>",
    ]
    return "\n".join(parts)


def _certificate_document(cert: CertificateData, languages: Sequence[Language]) -> str:
    first = languages[0]
    title = " / ".join(TEXT[lang]["title"] for lang in languages) + f" — {_e(cert.certificate_id)}"
    # The footer is CSS content: quotes and backslashes of the id must not end the string.
    footer_id = cert.certificate_id.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")
    footer = f"Passerelle — {' / '.join(TEXT[lang]['certificate'] for lang in languages)} {footer_id}"
    css = _CERT_CSS.replace("{{FOOTER}}", footer.replace("<", "\\3C ")).replace(
        "{{PAGE}}", " / ".join(TEXT[lang]["page"] for lang in languages)
    )
    sections = "\n".join(_certificate_section(cert, lang) for lang in languages)
    return (
        f'<!DOCTYPE html>\n<html lang="{first}">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{title}</title>\n<style>{css}</style>\n</head>\n<body>\n{sections}\n</body>\n</html>\n"
    )


def certificate_html(cert: CertificateData, language: Language) -> str:
    """The certificate in one language, as a standalone HTML document (inline CSS and SVG)."""
    return _certificate_document(cert, (_check_language(language),))


def certificate_pdf(cert: CertificateData) -> bytes:
    """The bilingual certificate as PDF: the French version, then the Dutch one on a new page
    (more pages when many media do not fit on one).

    Written directly with pydyf, without WeasyPrint (a few milliseconds instead of 0.3 s: one is
    issued in the request that records a wipe): the standard Helvetica fonts in WinAnsiEncoding
    (a character outside Windows-1252 prints as "?"), texts too long for their place wrapped
    or cut with "…", the QR code as one form XObject of filled rectangles shared by the pages,
    uncompressed content streams, no dates and an identifier derived from the content, so that
    the same data gives the same bytes."""
    import pydyf

    qr_modules, qr_module, qr_form = _pdf_qr(cert.qr_payload or cert.device_id)
    canvas = _Canvas()
    for lang in LANGUAGES:
        _certificate_pages(canvas, cert, lang, qr_modules, qr_module)
    footer = _encode(
        f"Passerelle — {' / '.join(TEXT[lang]['certificate'] for lang in LANGUAGES)} {cert.certificate_id}"
    )
    page_label = " / ".join(TEXT[lang]["page"] for lang in LANGUAGES)
    for number, ops in enumerate(canvas.pages, start=1):
        baseline = _PDF_FOOTER_MM * _PT
        numbering = _encode(f"{page_label} {number} / {len(canvas.pages)}")
        numbering_width = _measure(numbering, _REGULAR, 7.5)
        _text(
            ops,
            _LEFT,
            baseline,
            _clip(footer, _WIDTH - numbering_width - 10 * _PT, _REGULAR, 7.5),
            _REGULAR,
            7.5,
            _GREY,
        )
        _text(ops, _RIGHT - numbering_width, baseline, numbering, _REGULAR, 7.5, _GREY)

    pdf = pydyf.PDF()
    fonts = [
        pydyf.Dictionary({"Type": "/Font", "Subtype": "/Type1", "BaseFont": f"/{name}", "Encoding": "/WinAnsiEncoding"})
        for name in ("Helvetica", "Helvetica-Bold")
    ]
    for font in fonts:
        pdf.add_object(font)
    form = pydyf.Stream(
        qr_form,
        {
            "Type": "/XObject",
            "Subtype": "/Form",
            "BBox": pydyf.Array([0, 0, qr_modules, qr_modules]),
            "Resources": pydyf.Dictionary(),
        },
    )
    pdf.add_object(form)
    resources = pydyf.Dictionary(
        {
            "ProcSet": pydyf.Array(["/PDF", "/Text"]),
            "Font": pydyf.Dictionary({"F1": fonts[0].reference, "F2": fonts[1].reference}),
            "XObject": pydyf.Dictionary({"QR": form.reference}),
        }
    )
    pdf.add_object(resources)
    for ops in canvas.pages:
        content = pydyf.Stream(ops)
        pdf.add_object(content)
        pdf.add_page(
            pydyf.Dictionary(
                {
                    "Type": "/Page",
                    "Parent": pdf.pages.reference,
                    "MediaBox": pydyf.Array([0, 0, _PAGE_SIZE[0], _PAGE_SIZE[1]]),
                    "Resources": resources.reference,
                    "Contents": content.reference,
                }
            )
        )
    title = " / ".join(TEXT[lang]["title"] for lang in LANGUAGES) + f" — {cert.certificate_id}"
    pdf.info["Title"] = pydyf.String(_encode(title).decode("cp1252"))
    pdf.info["Creator"] = pydyf.String("Passerelle")
    out = io.BytesIO()
    pdf.write(out, version=b"1.4", identifier=True)  # the /ID is the MD5 of the objects: no randomness
    return out.getvalue()


# --- the certificate's PDF layout (points; the origin at the bottom left of the page) ------------

_PT = 72 / MM_PER_INCH  # points per millimetre
_PAGE_SIZE = (595.28, 841.89)  # A4
_LEFT = 15 * _PT
_RIGHT = _PAGE_SIZE[0] - 15 * _PT
_TOP = _PAGE_SIZE[1] - 12 * _PT
_BOTTOM = 15 * _PT
_WIDTH = _RIGHT - _LEFT
_PDF_FOOTER_MM = 8.0  # the footer's baseline, above the bottom edge
_CERT_QR_MM = 25.0
_PAD_X, _PAD_Y = 1.5 * _PT, 0.6 * _PT  # table cells
_LEADING = 1.3

_Color = tuple[float, float, float]
_INK: _Color = (0.102, 0.102, 0.102)
_GREY: _Color = (0.333, 0.333, 0.333)
_DARK: _Color = (0.2, 0.2, 0.2)
_BLUE: _Color = (0.043, 0.239, 0.42)
_RULE: _Color = (0.784, 0.784, 0.784)
_HEAD_FILL: _Color = (0.933, 0.949, 0.965)
_RESULT_COLOR: dict[str, _Color] = {
    "passed": (0.106, 0.369, 0.125),
    "failed": (0.718, 0.11, 0.11),
    "passed_with_warnings": (0.659, 0.365, 0.0),
}


def _afm_widths(table: str) -> tuple[int, ...]:
    """The 256 glyph widths (in 1/1000 em) of a WinAnsiEncoding font from its widths of codes
    32 to 255 (control characters, never printed, count as a space)."""
    widths = tuple(int(w) for w in table.split())
    assert len(widths) == 224
    return (widths[0],) * 32 + widths


# Helvetica and Helvetica-Bold, codes 32 to 255 of Windows-1252, from Adobe's AFM files (the 5
# unassigned codes as the bullet, as Acrobat does).
_HELVETICA = _afm_widths("""
278 278 355 556 556 889 667 191 333 333 389 584 278 333 278 278 556 556 556 556 556 556 556 556
556 556 278 278 584 584 584 556 1015 667 667 722 722 667 611 778 722 278 500 667 556 833 722 778
667 778 722 667 611 722 667 944 667 667 611 278 278 278 469 556 333 556 556 500 556 556 278 556
556 222 222 500 222 833 556 556 556 556 333 500 278 556 500 722 500 500 500 334 260 334 584 350
556 350 222 556 333 1000 556 556 333 1000 667 333 1000 350 611 350 350 222 222 333 333 350 556
1000 333 1000 500 333 944 350 500 667 278 333 556 556 556 556 260 556 333 737 370 556 584 333 737
333 400 584 333 333 333 556 537 278 333 333 365 556 834 834 834 611 667 667 667 667 667 667 1000
722 667 667 667 667 278 278 278 278 722 722 778 778 778 778 778 584 778 722 722 722 722 667 667
611 556 556 556 556 556 556 889 500 556 556 556 556 278 278 278 278 556 556 556 556 556 556 556
584 611 556 556 556 556 500 556 500
""")
_HELVETICA_BOLD = _afm_widths("""
278 333 474 556 556 889 722 238 333 333 389 584 278 333 278 278 556 556 556 556 556 556 556 556
556 556 333 333 584 584 584 611 975 722 722 722 722 667 611 778 722 278 556 722 611 833 722 778
667 778 722 667 611 722 667 944 667 667 611 333 278 333 584 556 333 556 611 556 611 556 333 611
611 278 278 556 278 889 611 611 611 611 389 556 333 611 556 778 556 556 500 389 280 389 584 350
556 350 278 556 500 1000 556 556 333 1000 667 333 1000 350 611 350 350 278 278 500 500 350 556
1000 333 1000 556 333 944 350 500 667 278 333 556 556 556 556 280 556 333 737 370 556 584 333 737
333 400 584 333 333 333 611 556 278 333 333 365 556 834 834 834 611 722 722 722 722 722 722 1000
722 667 667 667 667 278 278 278 278 722 722 778 778 778 778 778 584 778 722 722 722 722 667 667
611 556 556 556 556 556 556 889 556 556 556 556 556 278 278 278 278 611 611 611 611 611 611 611
584 611 611 611 611 611 556 611 556
""")


@dataclass(frozen=True)
class _Font:
    resource: bytes  # its name in the page resources
    widths: tuple[int, ...]


_REGULAR = _Font(b"F1", _HELVETICA)
_BOLD = _Font(b"F2", _HELVETICA_BOLD)
_ELLIPSIS = b"\x85"  # "…" in Windows-1252
# Control characters and Unicode spaces as spaces (as HTML shows them), and the characters that
# Windows-1252 lacks but has an equivalent of: the French thousands separator among them.
_CP1252_EQUIVALENTS = str.maketrans(
    {
        **{
            chr(code): " "
            for code in (*range(32), *range(127, 160), 0x1680, *range(0x2000, 0x200B), 0x205F, 0x3000)
            if code != 10
        },
        "\u2028": "\n",
        "\u2029": "\n",
        "\u200b": None,
        "\u2007": "\xa0",
        "\u202f": "\xa0",
        "\u2010": "-",
        "\u2011": "-",
    }
)
_SPACES = re.compile(" +")
_TAG = re.compile(r"<[^>]*>")


def _encode(text: str, *, lines: bool = False) -> bytes:
    """``text`` in Windows-1252 for the WinAnsiEncoding fonts ("?" for what it cannot encode), its
    whitespace collapsed as HTML does; ``lines`` keeps the line breaks (CSS ``pre-line``)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").translate(_CP1252_EQUIVALENTS)
    if lines:
        text = "\n".join(_SPACES.sub(" ", line).strip(" ") for line in text.split("\n")).strip("\n")
    else:
        text = _SPACES.sub(" ", text.replace("\n", " ")).strip(" ")
    return text.encode("cp1252", errors="replace")


def _measure(data: bytes, font: _Font, size: float) -> float:
    widths = font.widths
    return sum(widths[b] for b in data) * size / 1000


def _clip(data: bytes, width: float, font: _Font, size: float) -> bytes:
    """``data`` cut with an ellipsis so that it is at most ``width`` points wide."""
    if _measure(data, font, size) <= width:
        return data
    return _ellipsize(data, width, font, size)


def _ellipsize(data: bytes, width: float, font: _Font, size: float) -> bytes:
    """The longest start of ``data`` followed by an ellipsis that is at most ``width`` wide."""
    widths, limit = font.widths, width * 1000 / size - font.widths[_ELLIPSIS[0]]
    total = 0
    for index, byte in enumerate(data):
        total += widths[byte]
        if total > limit:
            return data[:index].rstrip(b" ") + _ELLIPSIS
    return data.rstrip(b" ") + _ELLIPSIS


def _wrap(data: bytes, width: float, font: _Font, size: float, max_lines: int) -> list[bytes]:
    """``data`` broken into lines at most ``width`` wide (at spaces, and inside a word too long
    for a line, as CSS ``overflow-wrap: anywhere``), at most ``max_lines``: the last one then ends
    with an ellipsis."""
    widths, limit = font.widths, width * 1000 / size
    space = widths[32]
    lines: list[bytes] = []
    for paragraph in data.split(b"\n"):
        line, line_width = b"", 0
        for word in paragraph.split(b" "):
            word_width = sum(widths[b] for b in word)
            if line and line_width + space + word_width <= limit:
                line, line_width = line + b" " + word, line_width + space + word_width
                continue
            if line:
                lines.append(line)
            while word_width > limit:  # a word wider than the line: broken where the line ends
                total, cut = 0, len(word)
                for index, byte in enumerate(word):
                    total += widths[byte]
                    if total > limit:
                        cut = max(index, 1)
                        break
                lines.append(word[:cut])
                word = word[cut:]
                word_width = sum(widths[b] for b in word)
            line, line_width = word, word_width
        lines.append(line)
        if len(lines) > max_lines:
            break
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        lines[-1] = _ellipsize(lines[-1], width, font, size)
    return lines


def _num(value: float) -> bytes:
    return (f"{value:.3f}".rstrip("0").rstrip(".") or "0").encode()


def _rgb(color: _Color, operator: bytes) -> bytes:
    return b" ".join((*(_num(c) for c in color), operator))


def _text(ops: list[bytes], x: float, baseline: float, data: bytes, font: _Font, size: float, color: _Color) -> None:
    literal = data.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")
    ops.append(
        b"BT /%s %s Tf %s %s %s Td (%s) Tj ET"
        % (font.resource, _num(size), _rgb(color, b"rg"), _num(x), _num(baseline), literal)
    )


def _rect(ops: list[bytes], x: float, y: float, width: float, height: float, color: _Color, stroke: float = 0) -> None:
    """A filled rectangle, or a stroked one ``stroke`` points wide; (x, y) is its bottom left."""
    box = b"%s %s %s %s re" % (_num(x), _num(y), _num(width), _num(height))
    if stroke:
        ops.append(b"%s %s w %s S" % (_rgb(color, b"RG"), _num(stroke), box))
    else:
        ops.append(b"%s %s f" % (_rgb(color, b"rg"), box))


def _baseline(top: float, size: float) -> float:
    """The baseline of a line of ``size`` point text whose line box starts at ``top``: the
    Helvetica glyphs (ascender 718, descender -207) centred in the line box."""
    return top - (size * _LEADING - 0.925 * size) / 2 - 0.718 * size


def _pdf_qr(payload: str) -> tuple[int, float, list[bytes]]:
    """The certificate's QR code: its side in modules (quiet zone included), the side of a module
    in points (on a 0.01 mm grid) and its drawing with a module as the unit, the origin at the
    bottom left: the dark modules as filled rectangles, one per run of dark modules in a row, all
    in one path (no seams between them)."""
    qr = _qr(payload)
    matrix = qr.matrix
    modules = len(matrix) + 2 * QR_BORDER
    scale = int(_CERT_QR_MM / modules * 100) / 100
    if scale < MIN_MODULE_MM:
        raise ValueError(
            f"the QR payload is too long: modules would be {scale} mm (at least {MIN_MODULE_MM} mm); shorten it"
        )
    ops = [b"0 g"]
    for row, cells in enumerate(matrix):
        y = modules - QR_BORDER - row - 1
        column, size = 0, len(cells)
        while column < size:
            if cells[column]:
                start = column
                while column < size and cells[column]:
                    column += 1
                ops.append(b"%d %d %d 1 re" % (QR_BORDER + start, y, column - start))
            column += 1
    ops.append(b"f")
    return modules, scale * _PT, ops


class _Canvas:
    """The pages' drawing operators, and where the next block goes on the current page."""

    def __init__(self) -> None:
        self.pages: list[list[bytes]] = []
        self.y = _TOP

    @property
    def ops(self) -> list[bytes]:
        return self.pages[-1]

    def new_page(self) -> None:
        self.pages.append([])
        self.y = _TOP

    def room(self, height: float) -> None:
        """A new page unless ``height`` points fit above the bottom margin (an empty page takes
        anything: a block taller than a page is cut by the page edge rather than looping)."""
        if self.y - height < _BOTTOM and self.y < _TOP:
            self.new_page()


# A line of a table cell or paragraph: runs of text (data, font, size, color) side by side.
_Run = tuple[bytes, _Font, float, _Color]


def _draw_line(ops: list[bytes], x: float, baseline: float, runs: Sequence[_Run]) -> None:
    for data, font, size, color in runs:
        if data:
            _text(ops, x, baseline, data, font, size, color)
            x += _measure(data + b" ", font, size)


@dataclass(frozen=True)
class _Cell:
    width: float
    lines: list[list[_Run]]
    header: bool = False


_CELL_SIZE = 8.0


def _cell(width: float, text: str, *, header: bool = False, font: _Font = _REGULAR, color: _Color = _INK,
          max_lines: int = 3, lines: bool = False) -> _Cell:  # fmt: skip
    font, color = (_BOLD, _DARK) if header else (font, color)
    data = _encode(text, lines=lines) or b"\x97"  # an em dash when empty
    wrapped = _wrap(data, width - 2 * _PAD_X, font, _CELL_SIZE, max_lines)
    return _Cell(width, [[(line, font, _CELL_SIZE, color)] for line in wrapped], header)


def _table_height(rows: Sequence[Sequence[_Cell]]) -> float:
    line = _CELL_SIZE * _LEADING
    return sum(max(len(c.lines) for c in row) * line + 2 * _PAD_Y for row in rows)


def _draw_table(canvas: _Canvas, rows: Sequence[Sequence[_Cell]]) -> None:
    ops, line = canvas.ops, _CELL_SIZE * _LEADING
    for row in rows:
        height = max(len(c.lines) for c in row) * line + 2 * _PAD_Y
        bottom, x = canvas.y - height, _LEFT
        for cell in row:
            if cell.header:
                _rect(ops, x, bottom, cell.width, height, _HEAD_FILL)
            _rect(ops, x, bottom, cell.width, height, _RULE, stroke=0.5)
            for index, runs in enumerate(cell.lines):
                _draw_line(ops, x + _PAD_X, _baseline(canvas.y - _PAD_Y - index * line, _CELL_SIZE), runs)
            x += cell.width
        canvas.y = bottom


def _heading(canvas: _Canvas, text: str, size: float, color: _Color, before: float, after: float) -> None:
    canvas.y -= before
    _text(canvas.ops, _LEFT, _baseline(canvas.y, size), _clip(_encode(text), _WIDTH, _BOLD, size), _BOLD, size, color)
    canvas.y -= size * 1.2 + after


def _paragraph(canvas: _Canvas, text: str, *, size: float = 8.5, font: _Font = _REGULAR, color: _Color = _INK,
               before: float = 0, after: float = 0, max_lines: int = 12) -> None:  # fmt: skip
    lines = _wrap(_encode(_TAG.sub("", text)), _WIDTH, font, size, max_lines)
    canvas.room(before + len(lines) * size * _LEADING + after)
    canvas.y -= before
    for line in lines:
        _text(canvas.ops, _LEFT, _baseline(canvas.y, size), line, font, size, color)
        canvas.y -= size * _LEADING
    canvas.y -= after


def _medium_rows(record: MediumRecord, lang: Language) -> list[list[_Cell]]:
    t = TEXT[lang]
    th, td = 0.19 * _WIDTH, 0.31 * _WIDTH
    tool = " ".join(part for part in (record.tool.strip(), record.tool_version.strip()) if part)
    result = _cell(td, _label(RESULT, lang, record.result), font=_BOLD, color=_RESULT_COLOR.get(record.result, _INK))
    pairs = [
        (t["medium_type"], _cell(td, _label(MEDIUM_TYPE, lang, record.medium_type)),
         t["capacity"], _cell(td, _fmt_capacity(record.capacity_gb, lang))),
        (t["serial"], _cell(td, record.serial), t["medium_id"], _cell(td, record.medium_id)),
        (t["method"], _cell(td, _label(METHOD, lang, record.method)),
         t["passes"], _cell(td, str(record.passes) if record.passes > 0 else "")),
        (t["tool"], _cell(td, tool), t["verification"], _cell(td, _label(VERIFICATION, lang, record.verification))),
        (t["started_at"], _cell(td, _fmt_datetime(record.started_at, lang)),
         t["ended_at"], _cell(td, _fmt_datetime(record.ended_at, lang))),
        (t["operator"], _cell(td, record.operator), t["result"], result),
    ]  # fmt: skip
    rows = [
        [_cell(th, a, header=True, max_lines=2), b, _cell(th, c, header=True, max_lines=2), d] for a, b, c, d in pairs
    ]
    rows.append(
        [
            _cell(th, t["warnings"], header=True, max_lines=2),
            _cell(_WIDTH - th, record.warnings, max_lines=6, lines=True),
        ]
    )
    return rows


def _device_rows(cert: CertificateData, lang: Language) -> list[list[_Cell]]:
    t = TEXT[lang]
    th, td = 0.32 * _WIDTH, 0.68 * _WIDTH
    make_model = " ".join(part for part in (cert.make.strip(), cert.model.strip()) if part)
    refurbisher = _cell(td, cert.refurbisher)
    note = _encode(f"({t['refurbisher_note']})")
    last = refurbisher.lines[-1]
    free = td - 2 * _PAD_X - _measure(last[0][0] + b" ", _REGULAR, _CELL_SIZE)
    if _measure(note, _REGULAR, _CELL_SIZE) <= free:  # on the same line, as in the HTML, if it fits
        last.append((note, _REGULAR, _CELL_SIZE, _GREY))
    else:
        refurbisher.lines.append([(_clip(note, td - 2 * _PAD_X, _REGULAR, _CELL_SIZE), _REGULAR, _CELL_SIZE, _GREY)])
    values = [
        (t["device_id"], _cell(td, cert.device_id)),
        (t["short_code"], _cell(td, cert.short_code)),
        (t["kind"], _cell(td, _label(KIND, lang, cert.kind))),
        (t["make_model"], _cell(td, make_model)),
        (t["serial"], _cell(td, cert.serial)),
        (t["donor"], _cell(td, cert.donor)),
        (t["refurbisher"], refurbisher),
    ]
    return [[_cell(th, label, header=True, max_lines=2), value] for label, value in values]


def _certificate_pages(
    canvas: _Canvas, cert: CertificateData, lang: Language, qr_modules: int, qr_module: float
) -> None:
    """One language's certificate, from a new page; ``qr_modules`` × ``qr_module`` points, the
    side of the QR code."""
    t = TEXT[lang]
    canvas.new_page()
    ops = canvas.ops

    # The header: the titles on the left, the QR code and the short code on the right.
    qr_side = qr_modules * qr_module
    qr_left = _RIGHT - qr_side
    scale = b"%.4f" % qr_module  # the module: 4 decimals keep the code's side within 0.01 point
    ops.append(b"q %s 0 0 %s %s %s cm /QR Do Q" % (scale, scale, _num(qr_left), _num(_TOP - qr_side)))
    code = _clip(_encode(cert.short_code), qr_side, _BOLD, 8)
    code_x = qr_left + (qr_side - _measure(code, _BOLD, 8)) / 2
    _text(ops, code_x, _baseline(_TOP - qr_side, 8), code, _BOLD, 8, _INK)
    qr_bottom = _TOP - qr_side - 8 * _LEADING

    width = qr_left - 4 * _PT - _LEFT
    y = _TOP
    for line in _wrap(_encode(t["title"]), width, _BOLD, 16, 2):
        _text(ops, _LEFT, _baseline(y, 16), line, _BOLD, 16, _BLUE)
        y -= 16 * 1.2
    y -= 1 * _PT
    for line in _wrap(_encode(t["subtitle"]), width, _REGULAR, 9.5, 2):
        _text(ops, _LEFT, _baseline(y, 9.5), line, _REGULAR, 9.5, _DARK)
        y -= 9.5 * _LEADING
    y -= 2 * _PT
    label = _encode(t["certificate"]) + b" "
    label_width = _measure(label, _REGULAR, 9.5)
    _text(ops, _LEFT, _baseline(y, 9.5), label, _REGULAR, 9.5, _INK)
    number = _clip(_encode(cert.certificate_id) or b"\x97", width - label_width, _BOLD, 9.5)
    _text(ops, _LEFT + label_width, _baseline(y, 9.5), number, _BOLD, 9.5, _INK)
    y -= 9.5 * _LEADING + 0.5 * _PT
    issued = _clip(_encode(f"{t['issued_on']} {_fmt_date(cert.issued_on, lang)}"), width, _REGULAR, 9.5)
    _text(ops, _LEFT, _baseline(y, 9.5), issued, _REGULAR, 9.5, _INK)
    y -= 9.5 * _LEADING

    canvas.y = min(y, qr_bottom) - 2 * _PT
    _rect(ops, _LEFT, canvas.y - 0.75, _WIDTH, 1.5, _BLUE)
    canvas.y -= 1.5 + 2 * _PT

    heading_2 = 4 * _PT + 11 * 1.2 + 1.5 * _PT
    heading_3 = 2.5 * _PT + 9 * 1.2 + 1 * _PT
    device = _device_rows(cert, lang)
    canvas.room(heading_2 + _table_height(device))
    _heading(canvas, t["device"], 11, _BLUE, 4 * _PT, 1.5 * _PT)
    _draw_table(canvas, device)

    media = [_medium_rows(record, lang) for record in cert.records]
    canvas.room(heading_2 + (heading_3 + _table_height(media[0]) if media else 30))
    _heading(canvas, t["media"], 11, _BLUE, 4 * _PT, 1.5 * _PT)
    for number, (record, rows) in enumerate(zip(cert.records, media, strict=True), start=1):
        canvas.room(heading_3 + _table_height(rows) + 1.5 * _PT)  # a medium's table stays on one page
        kind = _label(MEDIUM_TYPE, lang, record.medium_type).strip() or "—"
        _heading(canvas, f"{t['medium']} {number} / {len(cert.records)} — {kind}", 9, _INK, 2.5 * _PT, 1 * _PT)
        _draw_table(canvas, rows)
        canvas.y -= 1.5 * _PT

    # The verdict, in a box with a green (all media sanitised) or red bar on its left.
    latest = _latest_by_medium(cert.records)
    if not cert.records:
        verdict, good = t["no_media"], True
    elif all(r.result == "passed" for r in latest.values()):
        verdict, good = t["all_passed"], True
    else:
        verdict, good = t["not_all_passed"], False
    bar, inset = 4.0, 3 * _PT
    lines = _wrap(_encode(verdict), _WIDTH - bar - 2 * inset, _BOLD, 8.5, 4)
    height = len(lines) * 8.5 * _LEADING + 2 * 1.5 * _PT
    canvas.room(3 * _PT + height + 2 * _PT)
    canvas.y -= 3 * _PT
    bottom = canvas.y - height
    _rect(canvas.ops, _LEFT + 0.5, bottom + 0.5, _WIDTH - 1, height - 1, _RULE, stroke=1)
    _rect(canvas.ops, _LEFT, bottom, bar, height, _RESULT_COLOR["passed" if good else "failed"])
    y = canvas.y - 1.5 * _PT
    for line in lines:
        _text(
            canvas.ops,
            _LEFT + bar + inset,
            _baseline(y, 8.5),
            line,
            _BOLD,
            8.5,
            _INK if good else _RESULT_COLOR["failed"],
        )
        y -= 8.5 * _LEADING
    canvas.y = bottom - 2 * _PT

    _paragraph(canvas, t["statement"], before=2 * _PT, after=2 * _PT)
    refurbisher = cert.refurbisher.strip() or "—"
    _paragraph(canvas, f"{t['issued_on']} {_fmt_date(cert.issued_on, lang)} — {refurbisher}", before=3 * _PT,
               after=1 * _PT, max_lines=2)  # fmt: skip
    _paragraph(canvas, t["hash_note"], size=8, color=_GREY)
