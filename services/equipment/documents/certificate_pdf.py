"""The sanitisation certificate as PDF, drawn with the kit in ``pdf`` (a few ms each, no WeasyPrint)."""

from __future__ import annotations

from passerelle_contracts.common import LANGUAGES, Language
from passerelle_contracts.i18n import DEVICE_KIND, fmt_date, fmt_datetime
from passerelle_contracts.i18n import label as _label  # "label" names a local in the layout code

from .data import CertificateData, MediumRecord, outcome
from .i18n import MEDIUM_TYPE, METHOD, RESULT, TEXT, VERIFICATION, _fmt_capacity
from .pdf import (
    _BLUE,
    _BOLD,
    _CELL_SIZE,
    _DARK,
    _GREY,
    _INK,
    _LEADING,
    _LEFT,
    _PAD_X,
    _PT,
    _REGULAR,
    _RIGHT,
    _RULE,
    _TOP,
    _WIDTH,
    _baseline,
    _Canvas,
    _Cell,
    _cell,
    _clip,
    _Color,
    _draw_table,
    _encode,
    _heading,
    _measure,
    _num,
    _paragraph,
    _pdf_qr,
    _rect,
    _table_height,
    _text,
    _wrap,
    _write,
)

_PDF_FOOTER_MM = 8.0  # the footer's baseline, above the bottom edge
_CERT_QR_MM = 25.0
_RESULT_COLOR: dict[str, _Color] = {
    "passed": (0.106, 0.369, 0.125),
    "failed": (0.718, 0.11, 0.11),
    "passed_with_warnings": (0.659, 0.365, 0.0),
}


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
        (t["started_at"], _cell(td, fmt_datetime(record.started_at, lang, numeric=True)),
         t["ended_at"], _cell(td, fmt_datetime(record.ended_at, lang, numeric=True))),
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
        (t["kind"], _cell(td, _label(DEVICE_KIND, lang, cert.kind))),
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
    issued = _clip(_encode(f"{t['issued_on']} {fmt_date(cert.issued_on, lang)}"), width, _REGULAR, 9.5)
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
    for index, (record, rows) in enumerate(zip(cert.records, media, strict=True), start=1):
        canvas.room(heading_3 + _table_height(rows) + 1.5 * _PT)  # a medium's table stays on one page
        kind = _label(MEDIUM_TYPE, lang, record.medium_type).strip() or "—"
        _heading(canvas, f"{t['medium']} {index} / {len(cert.records)} — {kind}", 9, _INK, 2.5 * _PT, 1 * _PT)
        _draw_table(canvas, rows)
        canvas.y -= 1.5 * _PT

    # The verdict, in a box with a green (all media sanitised) or red bar on its left.
    verdict_key = outcome(cert)
    verdict, good = t[verdict_key], verdict_key != "not_all_passed"
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
    _paragraph(canvas, f"{t['issued_on']} {fmt_date(cert.issued_on, lang)} — {refurbisher}", before=3 * _PT,
               after=1 * _PT, max_lines=2)  # fmt: skip
    _paragraph(canvas, t["hash_note"], size=8, color=_GREY)


def certificate_pdf(cert: CertificateData) -> bytes:
    """The bilingual certificate as PDF: the French version, then the Dutch one on a new page
    (more pages when many media do not fit on one).

    Written directly with pydyf, without WeasyPrint (a few milliseconds instead of 0.3 s: one is
    issued in the request that records a wipe): the standard Helvetica fonts in WinAnsiEncoding
    (a character outside Windows-1252 prints as "?"), texts too long for their place wrapped
    or cut with "…", the QR code as one form XObject of filled rectangles shared by the pages,
    uncompressed content streams, no dates and an identifier derived from the content, so that
    the same data gives the same bytes."""
    qr_modules, qr_module, qr_form = _pdf_qr(cert.qr_payload or cert.device_id, _CERT_QR_MM)
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

    title = " / ".join(TEXT[lang]["title"] for lang in LANGUAGES) + f" — {cert.certificate_id}"
    return _write(canvas.pages, qr_form, qr_modules, title)
