from __future__ import annotations

import contextlib
import dataclasses
import io
import logging
import re
import sys
import zlib
from datetime import UTC, date, datetime
from typing import Any

import pytest
import segno
from PIL import Image

from services.equipment.documents import (
    CertificateData,
    LabelData,
    MediumRecord,
    certificate_html,
    certificate_pdf,
    label_png,
    labels_html,
    labels_pdf,
    sha256,
)
from services.equipment.documents import pdf as pdf_layout

# WeasyPrint 70 warns at import when libharfbuzz-subset0 is missing (scripts/install adds it);
# ignored here, narrowly, as tests/unit/actions/test_report_render.py does.
pytestmark = pytest.mark.filterwarnings(
    "ignore:HarfBuzz-Subset will be required by future versions of WeasyPrint:DeprecationWarning"
)

DEVICE_ID = "6f1c2b8e-1d2a-4c1e-9f0a-3b2c1d0e9f8a"
SCRIPT = '<script>alert("x")</script>'


def a_label(n: int = 0, **changes: str) -> LabelData:
    label = LabelData(
        device_id=f"6f1c2b8e-1d2a-4c1e-9f0a-3b2c1d0e{n:04d}",
        short_code=f"PSR-7K3F{n:02d}",
        kind="laptop",
        make="Lenovo",
        model="ThinkPad T480",
        donor="Bruxelles Fiscalité / Brussel Fiscaliteit",
        asset_tag=f"BF-2019-{n:05d}",
        qr_payload=f"passerelle:device:6f1c2b8e-1d2a-4c1e-9f0a-3b2c1d0e{n:04d}",
    )
    return dataclasses.replace(label, **changes)


def a_record(medium_id: str = "m-1", **changes: Any) -> MediumRecord:
    record = MediumRecord(
        medium_id=medium_id,
        medium_type="ssd",
        capacity_gb=256,
        serial="S3Z9NB0K123456A",
        method="purge",
        tool="Blancco Drive Eraser",
        tool_version="7.9.1",
        passes=1,
        verification="full",
        operator="Amélie Dupont",
        started_at=datetime(2025, 3, 12, 9, 5, tzinfo=UTC),
        ended_at=datetime(2025, 3, 12, 9, 41, tzinfo=UTC),
        result="passed",
        warnings="",
    )
    return dataclasses.replace(record, **changes)


def a_certificate(*records: MediumRecord) -> CertificateData:
    return CertificateData(
        certificate_id="CERT-2025-000123",
        device_id=DEVICE_ID,
        short_code="PSR-7K3F9Q",
        kind="laptop",
        make="Lenovo",
        model="ThinkPad T480",
        serial="PF1ABCDE",
        donor="Bruxelles Fiscalité",
        refurbisher="Digitalcity ASBL",
        issued_on=date(2025, 3, 13),
        records=records,
    )


def _page_count(pdf: bytes) -> int:
    """Page objects, also inside the compressed object streams that WeasyPrint (pydyf) writes."""
    text = pdf
    for stream in re.findall(rb"stream\r?\n(.*?)\r?\nendstream", pdf, re.DOTALL):
        with contextlib.suppress(zlib.error):  # an uncompressed stream
            text += zlib.decompress(stream)
    return len(re.findall(rb"/Type\s*/Page\b", text))


def _weasyprint_messages(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name.startswith("weasyprint")]


# --- label PNG ----------------------------------------------------------------------------------


@pytest.mark.parametrize("dpi", [300, 203, 600])
def test_label_png_is_62_by_29_mm_at_the_dpi(dpi: int) -> None:
    png = label_png(a_label(), dpi=dpi)
    assert png.startswith(b"\x89PNG")
    image = Image.open(io.BytesIO(png))
    assert abs(image.width - 62 / 25.4 * dpi) <= 2
    assert abs(image.height - 29 / 25.4 * dpi) <= 2
    assert image.info["dpi"] == pytest.approx((dpi, dpi), abs=0.01)


def _qr_matrix_in(image: Image.Image, size: int) -> tuple[list[list[bool]], int]:
    """The ``size`` × ``size`` QR code in the label's left part: its dark modules sampled at their
    centres, the module size measured on the top-left finder pattern (7 modules wide)."""
    gray = image.convert("L")
    left_half = gray.crop((0, 0, gray.height // 2, gray.height))  # the QR code only, no text
    box = left_half.point(lambda v: 255 if v < 128 else 0).getbbox()
    assert box is not None, "no QR code"
    left, top, _, _ = box

    def dark(x: int, y: int) -> bool:
        value = gray.getpixel((x, y))
        assert isinstance(value, int | float)  # one band: "L"
        return value < 128

    run = 0
    while dark(left + run, top):
        run += 1
    assert run % 7 == 0
    module = run // 7
    matrix = [
        [dark(left + x * module + module // 2, top + y * module + module // 2) for x in range(size)]
        for y in range(size)
    ]
    quiet = gray.crop((left + size * module, top, left + (size + 4) * module, top + size * module))
    darkest = quiet.getextrema()[0]
    assert isinstance(darkest, int | float) and darkest >= 128  # the quiet zone is blank
    return matrix, module


@pytest.mark.parametrize("dpi", [300, 203])
def test_label_png_holds_the_qr_code_of_the_payload_module_for_module(dpi: int) -> None:
    label = a_label()
    expected = [[bool(v) for v in row] for row in segno.make(label.qr_payload, error="m", micro=False).matrix]
    matrix, module = _qr_matrix_in(Image.open(io.BytesIO(label_png(label, dpi=dpi))), len(expected))
    assert matrix == expected
    assert module * 25.4 / dpi >= 0.4  # mm: large enough to scan


def test_label_png_is_deterministic_and_follows_the_payload_and_texts() -> None:
    first = label_png(a_label(1))
    assert label_png(a_label(1)) == first
    assert label_png(a_label(1, qr_payload="passerelle:device:other")) != first
    assert label_png(a_label(1, short_code="PSR-AAAAAA")) != first


def test_label_png_copes_with_long_texts_and_refuses_an_unscannable_payload() -> None:
    long = a_label(model="ThinkPad X1 Carbon Gen 11 (21HM0066MB) " * 5, donor="Service public " * 10)
    assert label_png(long).startswith(b"\x89PNG")
    with pytest.raises(ValueError, match="too long"):
        label_png(a_label(qr_payload="x" * 600))
    with pytest.raises(ValueError, match="empty"):
        label_png(a_label(qr_payload=""))


# --- sheet of labels PDF ------------------------------------------------------------------------


def test_labels_pdf_puts_24_labels_on_a_page(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="weasyprint"):
        pdf = labels_pdf([a_label(n) for n in range(30)])
        assert _page_count(labels_pdf([a_label(n) for n in range(24)])) == 1
    assert pdf.startswith(b"%PDF")
    assert _page_count(pdf) == 2
    assert _weasyprint_messages(caplog) == []


def test_labels_html_has_one_svg_qr_per_label_and_escapes_the_texts() -> None:
    html = labels_html([a_label(0), a_label(1, donor=SCRIPT, short_code="<b>")])
    assert html.count("<svg") == 2
    assert html.count('class="sheet"') == 1
    assert "<script>" not in html and "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html
    assert "&lt;b&gt;" in html
    assert "PSR-7K3F00" in html and "Inv. BF-2019-00001" in html and "Lenovo ThinkPad T480" in html
    with pytest.raises(ValueError):
        labels_pdf([])


# --- certificate --------------------------------------------------------------------------------


def test_certificate_html_in_french_and_dutch_translates_methods_and_results() -> None:
    cert = a_certificate(
        a_record("m-1", method="clear", result="passed"),
        a_record("m-2", method="purge", result="failed", medium_type="hdd", capacity_gb=1000),
        a_record("m-3", method="destroy", result="passed_with_warnings", warnings="HPA not reset"),
    )
    fr, nl = certificate_html(cert, "fr"), certificate_html(cert, "nl")
    for text in (
        "effacement (clear)",
        "purge",
        "destruction",
        "réussi",
        "échoué",
        "réussi avec avertissements",
        "NIST SP 800-88 Rev. 1",
        "13 mars 2025",
        "CERT-2025-000123",
        DEVICE_ID,
        "PSR-7K3F9Q",
        "ordinateur portable",
        "Lenovo ThinkPad T480",
        "PF1ABCDE",
        "Bruxelles Fiscalité",
        "Digitalcity ASBL",
        "Blancco Drive Eraser 7.9.1",
        "disque dur (HDD)",
        "1\u202f000 Go",
        "12/03/2025 09:05:00 UTC",
        "HPA not reset",
        "<svg",
    ):
        assert text in fr, text
    for text in (
        "wissen (clear)",
        "purge",
        "vernietiging",
        "geslaagd",
        "mislukt",
        "geslaagd met waarschuwingen",
        "NIST SP 800-88 Rev. 1",
        "13 maart 2025",
        "harde schijf (HDD)",
        "1.000 GB",
        "12-03-2025 09:05:00 UTC",
        "<svg",
    ):
        assert text in nl, text
    assert '<html lang="fr">' in fr and '<html lang="nl">' in nl
    assert "échoué" not in nl and "mislukt" not in fr
    assert "n'a pas été assaini avec succès" in fr  # a failed medium: the outcome says so


def test_certificate_html_escapes_data_and_refuses_unknown_languages() -> None:
    cert = a_certificate(a_record(operator=SCRIPT, warnings="<img src=x>"))
    cert = dataclasses.replace(cert, certificate_id='C"1</style>', donor="A & B")
    for lang in ("fr", "nl"):
        html = certificate_html(cert, lang)
        assert "<script>" not in html and "<img" not in html and html.count("</style>") == 1
        assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html
        assert "A &amp; B" in html
    with pytest.raises(ValueError, match="language"):
        certificate_html(cert, "de")  # type: ignore[arg-type]  # a language the certificate does not have, on purpose


def test_certificate_outcome_uses_the_latest_record_of_every_medium() -> None:
    """The latest as the sanitisation rule has it: the later in the device's history (``order``),
    whatever the order the records are listed in."""
    failed = a_record("m-1", result="failed", ended_at=datetime(2025, 3, 12, 9, 0, tzinfo=UTC), order=1)
    passed = a_record("m-1", result="passed", ended_at=datetime(2025, 3, 12, 10, 0, tzinfo=UTC), order=2)
    assert "ont été assainis avec succès" in certificate_html(a_certificate(passed, failed), "fr")
    assert "niet met succes gesaneerd" in certificate_html(a_certificate(failed), "nl")
    assert "aucun support de stockage" in certificate_html(a_certificate(), "fr")


def _page_texts(pdf: bytes) -> list[str]:
    """The texts that every page shows, in order: the strings of the ``Tj`` operators of its
    (uncompressed) content stream, read in Windows-1252 as the WinAnsiEncoding fonts do, one a line."""
    streams = [s for s in re.findall(rb"stream\n(.*?)\nendstream", pdf, re.DOTALL) if b" Tj ET" in s]
    return [
        "\n".join(
            re.sub(rb"\\(.)", rb"\1", literal).decode("cp1252")
            for literal in re.findall(rb"\(((?:\\.|[^\\()])*)\) Tj", stream)
        )
        for stream in streams
    ]


def _check_structure(pdf: bytes) -> None:
    """The cross-reference table points at every object and every stream has its /Length."""
    start = int(re.search(rb"startxref\n(\d+)\n%%EOF\n$", pdf).group(1))  # type: ignore[union-attr]  # no match fails the test
    assert pdf[start:].startswith(b"xref\n")
    offsets = re.findall(rb"(\d{10}) 00000 n ", pdf[start:])
    assert offsets
    for number, offset in enumerate(offsets, start=1):
        assert pdf[int(offset) :].startswith(b"%d 0 obj\n" % number)
    for length, rest in re.findall(rb"/Length (\d+)>>\nstream\n(.*?)endobj", pdf, re.DOTALL):
        assert rest[int(length) :] == b"\nendstream\n"


def _qr_matrix_in_pdf(pdf: bytes) -> list[list[bool]]:
    """The QR code's form XObject back into a matrix: its ``x y w 1 re`` runs of dark modules
    (quiet zone included, y from the bottom), without the 4-module quiet zone."""
    side_text, form = re.search(rb"/BBox \[0 0 (\d+) \1\].*?stream\n(.*?)\nendstream", pdf, re.DOTALL).groups()  # type: ignore[union-attr]  # no match fails the test
    side = int(side_text)
    grid = [[False] * side for _ in range(side)]
    for x, y, width in re.findall(rb"(\d+) (\d+) (\d+) 1 re", form):
        for column in range(int(x), int(x) + int(width)):
            grid[side - 1 - int(y)][column] = True
    assert not any(grid[0] + grid[-1] + [row[0] for row in grid] + [row[-1] for row in grid])
    return [row[4:-4] for row in grid[4:-4]]


def test_certificate_pdf_is_deterministic_and_follows_the_data(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "weasyprint", None)  # written without WeasyPrint: importing it fails
    cert = a_certificate(a_record("m-1"), a_record("m-2", medium_type="hdd", method="clear"))
    first = certificate_pdf(cert)
    second = certificate_pdf(cert)
    changed = certificate_pdf(
        dataclasses.replace(cert, records=(cert.records[0], dataclasses.replace(cert.records[1], result="failed")))
    )
    assert first.startswith(b"%PDF")
    assert first == second
    assert sha256(first) == sha256(second) and re.fullmatch(r"[0-9a-f]{64}", sha256(first))
    assert changed != first and sha256(changed) != sha256(first)
    assert _page_count(first) == 2  # French, then Dutch: one page each for two media
    assert b"CreationDate" not in first and b"ModDate" not in first
    _check_structure(first)
    _check_structure(changed)


def test_certificate_pdf_has_the_french_then_the_dutch_certificate() -> None:
    cert = a_certificate(
        a_record("m-1", method="clear", result="passed"),
        a_record("m-2", method="purge", result="failed", medium_type="hdd", capacity_gb=1000, warnings="HPA not reset"),
    )
    pdf = certificate_pdf(cert)
    assert b"/BaseFont /Helvetica " in pdf.replace(b"/Encoding", b" /Encoding")
    assert pdf.count(b"/Encoding /WinAnsiEncoding") == 2
    assert "Numéro de série".encode("cp1252") in pdf  # é as one Windows-1252 byte
    fr, nl = _page_texts(pdf)
    for text in (
        "Certificat d'effacement des données",
        "Certificat n° ",
        "CERT-2025-000123",
        "Émis le 13 mars 2025",
        "Appareil",
        "Identifiant Passerelle",
        DEVICE_ID,
        "PSR-7K3F9Q",
        "ordinateur portable",
        "Lenovo ThinkPad T480",
        "PF1ABCDE",
        "Bruxelles Fiscalité",
        "Digitalcity ASBL",
        "(organisation qui a effacé les données)",
        "Support 1 / 2 — SSD",
        "Support 2 / 2 — disque dur (HDD)",
        "effacement (clear)",
        "purge",
        "Blancco Drive Eraser 7.9.1",
        "S3Z9NB0K123456A",
        "complète",
        "Amélie Dupont",
        "12/03/2025 09:05:00 UTC",
        "12/03/2025 09:41:00 UTC",
        "1\xa0000 Go",  # the narrow no-break space, which Windows-1252 lacks, as a no-break space
        "réussi",
        "échoué",
        "HPA not reset",
        "NIST SP 800-88 Rev. 1",
        "(Guidelines for Media Sanitization)",
        "Émis le 13 mars 2025 — Digitalcity ASBL",
        "Page / Pagina 1 / 2",
    ):
        assert text in fr, text
    assert "n'a pas été assaini avec succès" in fr.replace("\n", " ")  # the verdict
    for text in (
        "Certificaat van gegevensverwijdering",
        "Uitgereikt op 13 maart 2025",
        "Toestel",
        "Medium 2 / 2 — harde schijf (HDD)",
        "wissen (clear)",
        "geslaagd",
        "mislukt",
        "volledig",
        "1.000 GB",
        "12-03-2025 09:05:00 UTC",
        "Herconditioneerder",
        "Page / Pagina 2 / 2",
    ):
        assert text in nl, text
    assert "niet met succes gesaneerd" in nl.replace("\n", " ")
    assert "échoué" not in nl and "mislukt" not in fr
    assert "<i" not in fr + nl  # the statement's HTML markup is not printed
    assert "ont été assainis avec succès" in _page_texts(certificate_pdf(a_certificate(a_record())))[0]
    assert "aucun support de stockage" in _page_texts(certificate_pdf(a_certificate()))[0].replace("\n", " ")


def test_certificate_pdf_holds_the_qr_code_of_the_payload_module_for_module() -> None:
    cert = dataclasses.replace(a_certificate(a_record()), qr_payload="passerelle:device:" + DEVICE_ID)
    for certificate, payload in ((cert, cert.qr_payload), (a_certificate(), DEVICE_ID)):
        pdf = certificate_pdf(certificate)
        expected = [[bool(v) for v in row] for row in segno.make(payload, error="m", micro=False).matrix]
        assert _qr_matrix_in_pdf(pdf) == expected
        assert pdf.count(b"/QR Do") == 2  # one form, drawn on both pages
        module = float(re.search(rb"q ([\d.]+) 0 0 \1 [\d.]+ [\d.]+ cm /QR Do", pdf).group(1))  # type: ignore[union-attr]  # no match fails the test
        assert module * 25.4 / 72 >= 0.4 and (len(expected) + 8) * module * 25.4 / 72 <= 25.01  # mm
    with pytest.raises(ValueError, match="too long"):
        certificate_pdf(dataclasses.replace(cert, qr_payload="x" * 600))


def test_certificate_pdf_copes_with_special_characters() -> None:
    odd = "Zoë (Ï) \\ ) « ça » ✓ 🙂 end"
    cert = a_certificate(a_record(operator=SCRIPT, warnings="ligne 1\r\nligne 2\x00\tfin", serial=odd))
    cert = dataclasses.replace(cert, certificate_id='C"1</style>', donor="A & B", make="Dell\u202fLatitude")
    pdf = certificate_pdf(cert)
    _check_structure(pdf)
    assert _page_count(pdf) == 2
    fr, nl = _page_texts(pdf)
    for page in (fr, nl):
        assert SCRIPT in page  # a PDF string, not markup: printed as it is
        assert "Zoë (Ï) \\ ) « ça » ? ? end" in page  # outside Windows-1252: "?"
        assert 'C"1</style>' in page and "A & B" in page and "Dell\xa0Latitude" in page
        assert "ligne 1\nligne 2 fin" in page  # line breaks kept, control characters as spaces


def test_certificate_pdf_keeps_long_texts_on_the_page() -> None:
    records = [a_record(f"m-{n}", warnings="Secteur réalloué, " * 60 if n == 2 else "") for n in range(1, 7)]
    cert = dataclasses.replace(
        a_certificate(*records),
        model="ThinkPad X1 Carbon Gen 11 (21HM0066MB) " * 20,
        donor="Service public fédéral " * 40,
        certificate_id="CERT-" + "9" * 200,
    )
    pdf = certificate_pdf(cert)
    _check_structure(pdf)
    pages = _page_texts(pdf)
    assert len(pages) == _page_count(pdf) >= 4  # six media: more than a page a language
    assert pages[-1].endswith(f"Page / Pagina {len(pages)} / {len(pages)}")
    assert sum("Certificat d'effacement des données" in page for page in pages) == 1
    assert "…" in pages[0] and "9" * 200 not in pages[0] and cert.donor.strip() not in pages[0]
    # Every text starts and ends within the 15 mm side margins (Helvetica's AFM widths), above the footer.
    fonts = {b"F1": pdf_layout._REGULAR, b"F2": pdf_layout._BOLD}
    texts = re.findall(rb"/(F\d) ([\d.]+) Tf [\d. ]+ rg ([\d.]+) ([\d.]+) Td \(((?:\\.|[^\\()])*)\) Tj", pdf)
    assert len(texts) > 200
    for font, size, x, y, literal in texts:
        width = pdf_layout._measure(re.sub(rb"\\(.)", rb"\1", literal), fonts[font], float(size))
        assert float(x) >= 42.5 and float(x) + width <= 595.28 - 42.5 + 0.01
        assert 22 <= float(y) <= 842
