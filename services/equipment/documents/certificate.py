"""The bilingual sanitisation certificate (NIST SP 800-88 Rev. 1): HTML, and the entry to its PDF."""

from __future__ import annotations

from collections.abc import Sequence

from passerelle_contracts.common import Language
from passerelle_contracts.i18n import DEVICE_KIND, as_language, fmt_date, fmt_datetime
from passerelle_contracts.i18n import label as _label

from .data import CertificateData, MediumRecord, outcome
from .i18n import MEDIUM_TYPE, METHOD, RESULT, TEXT, VERIFICATION, _dash, _e, _fmt_capacity
from .labels import _qr_svg

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
        (t["started_at"], fmt_datetime(record.started_at, lang, numeric=True),
         t["ended_at"], fmt_datetime(record.ended_at, lang, numeric=True)),
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
        (t["kind"], _dash(_label(DEVICE_KIND, lang, cert.kind))),
        (t["make_model"], _dash(make_model)),
        (t["serial"], f'<span class="mono">{_dash(cert.serial)}</span>'),
        (t["donor"], _dash(cert.donor)),
        (t["refurbisher"], f'{_dash(cert.refurbisher)} <span class="note">({t["refurbisher_note"]})</span>'),
    ]
    verdict = outcome(cert)
    verdict_html = f'<p class="outcome{" bad" if verdict == "not_all_passed" else ""}">{t[verdict]}</p>'
    parts = [
        f'<section class="certificate" lang="{lang}">',
        '<header><div class="heading">',
        f"<h1>{t['title']}</h1>",
        f'<p class="subtitle">{t["subtitle"]}</p>',
        f'<p class="ref">{t["certificate"]} <strong class="mono">{_dash(cert.certificate_id)}</strong></p>',
        f'<p class="ref">{t["issued_on"]} {fmt_date(cert.issued_on, lang)}</p>',
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
        verdict_html,
        f'<p class="statement">{t["statement"]}</p>',
        f'<p class="issued">{t["issued_on"]} {fmt_date(cert.issued_on, lang)} — {_dash(cert.refurbisher)}</p>',
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
    return _certificate_document(cert, (as_language(language),))
