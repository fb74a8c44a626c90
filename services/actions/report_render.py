"""The annual report (``report_model.AnnualReport``) as files: a standalone, print-friendly HTML
document in French or Dutch, its PDF (WeasyPrint) and two machine-readable CSV files.

Pure functions: no template engine, every text from the data goes through ``html.escape``.
Labels and number/date formatting are in ``passerelle_contracts.i18n``, the report's own texts in
``report_i18n``."""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Iterable
from datetime import date
from html import escape

from passerelle_contracts.common import ACTION_STATUSES, Language
from passerelle_contracts.i18n import (
    FIELD,
    MEETING_KIND,
    STATUS,
    TRAFFIC_LIGHT,
    UNIT,
    as_language,
    fmt_date,
    fmt_datetime,
    fmt_number,
    fmt_percent,
    label,
    localized,
)

from services.actions.report_i18n import MILESTONE_STATE, TEXT
from services.actions.report_model import ActionLine, AnnualReport, Change, IndicatorLine

_CSS = """
@page { size: A4; margin: 16mm 14mm 18mm 14mm;
  @bottom-left { content: "{{FOOTER}}"; font: 8pt "DejaVu Sans", "Liberation Sans", Arial, sans-serif; color: #666; }
  @bottom-right { content: "{{PAGE}} " counter(page) " / " counter(pages);
    font: 8pt "DejaVu Sans", "Liberation Sans", Arial, sans-serif; color: #666; } }
html { -webkit-print-color-adjust: exact; } /* browsers print the bars; WeasyPrint always does */
body { font-family: "DejaVu Sans", "Liberation Sans", Arial, sans-serif; font-size: 9pt; line-height: 1.35;
  color: #1a1a1a; margin: 0 auto; max-width: 190mm; overflow-wrap: break-word; }
h1 { font-size: 20pt; margin: 0 0 4mm; color: #0b3d6b; }
h2 { font-size: 14pt; margin: 8mm 0 3mm; color: #0b3d6b; border-bottom: 1.5pt solid #0b3d6b; }
h3 { font-size: 11.5pt; margin: 6mm 0 2mm; color: #0b3d6b; }
h4 { font-size: 10pt; margin: 0 0 1.5mm; }
h5 { font-size: 9pt; margin: 2.5mm 0 1mm; color: #444; }
h2, h3, h4, h5 { break-after: avoid; page-break-after: avoid; }
.title-page { border-left: 4pt solid #0b3d6b; padding: 2mm 0 2mm 5mm; margin-bottom: 6mm; }
.title-page p { margin: 1mm 0; font-size: 11pt; }
.title-page .generated { font-size: 8.5pt; color: #555; }
section.axis { break-before: page; page-break-before: always; }
article.action { border: 0.75pt solid #c8c8c8; border-radius: 2pt; padding: 2.5mm 3mm; margin: 0 0 3mm; }
table { border-collapse: collapse; width: 100%; margin: 1mm 0 2mm; font-size: 8.5pt; }
th, td { border: 0.5pt solid #c8c8c8; padding: 0.8mm 1.5mm; text-align: left; vertical-align: top;
  overflow-wrap: anywhere; word-wrap: break-word; }
th { background: #eef2f6; font-weight: bold; font-size: 8pt; }
tr { break-inside: avoid; page-break-inside: avoid; }
td.num, th.num { text-align: right; white-space: nowrap; }
table.summary { width: auto; min-width: 90mm; }
table.indicators { table-layout: fixed; } /* fixed widths: a long name cannot push the table off the page */
table.indicators th:nth-child(1) { width: 25%; } table.indicators th:nth-child(2) { width: 14%; }
table.indicators .num { white-space: normal; }
table.changes th:first-child { width: 22%; }
table.milestones th:first-child { width: 40%; }
dl.facts { display: grid; grid-template-columns: 30mm auto; margin: 0 0 1mm; }
dl.facts dt { font-weight: bold; color: #444; }
dl.facts dd { margin: 0; }
.note { white-space: pre-line; }
.bar { display: inline-block; width: 40mm; height: 3mm; background: #e3e3e3; vertical-align: middle;
  border-radius: 1.5pt; overflow: hidden; margin-right: 2mm; }
.bar span { display: block; height: 100%; background: #2e7d32; }
.dot { display: inline-block; width: 2.6mm; height: 2.6mm; border-radius: 50%; vertical-align: middle;
  margin: 0 1mm 0 2mm; }
.on_track { background: #2e7d32; } .at_risk { background: #f39c12; } .off_track { background: #c0392b; }
.state-overdue { color: #c0392b; font-weight: bold; } .state-reached { color: #2e7d32; }
ul.decisions { margin: 0.5mm 0 1mm 5mm; padding: 0; }
.muted { color: #666; }
.appendix { break-before: page; page-break-before: always; }
"""


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def percent_of_target(indicator: IndicatorLine) -> float | None:
    """The value as a share of the target (value / target × 100), None without a positive target."""
    if indicator.target is None or indicator.target <= 0:
        return None
    return indicator.value / indicator.target * 100


def _by_status(report: AnnualReport) -> dict[str, int]:
    """The report's own counts when given, else counted from the actions; every known status shown."""
    counts = dict(report.by_status) or dict(Counter(a.status for a in report.actions()))
    ordered: dict[str, int] = {s: counts.get(s, 0) for s in ACTION_STATUSES}
    ordered.update({s: n for s, n in counts.items() if s not in ordered})
    return ordered


def _bar(progress: float, lang: Language) -> str:
    width = max(0.0, min(100.0, progress))
    return f'<span class="bar"><span style="width: {width:.1f}%"></span></span>{fmt_percent(progress, lang)}'


def _light(code: str | None, lang: Language) -> str:
    if code is None:
        return "—"
    css = code if code in TRAFFIC_LIGHT[lang] else ""
    return f'<span class="dot {css}"></span>{_e(label(TRAFFIC_LIGHT, lang, code))}'


def _table(headers: Iterable[tuple[str, bool]], rows: Iterable[Iterable[str]], css: str = "") -> str:
    """``headers``: (text, numeric); ``rows``: cells already escaped/formatted."""
    headers = list(headers)
    head = "".join(f'<th class="num">{h}</th>' if num else f"<th>{h}</th>" for h, num in headers)
    body = "".join(
        "<tr>"
        + "".join(f'<td class="num">{c}</td>' if num else f"<td>{c}</td>" for c, (_, num) in zip(r, headers))
        + "</tr>"
        for r in rows
    )
    cls = f' class="{css}"' if css else ""
    return f"<table{cls}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _change_value(change: Change, value: object, lang: Language) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return TEXT[lang]["yes" if value else "no"]
    if isinstance(value, int | float):
        text = fmt_number(value, lang)
        return fmt_percent(value, lang) if change.field == "progress" else text
    if change.field == "status":
        return _e(label(STATUS, lang, str(value)))
    if change.field == "traffic_light":
        return _e(label(TRAFFIC_LIGHT, lang, str(value)))
    if change.field in ("planned_on", "reached_on"):
        try:
            return fmt_date(date.fromisoformat(str(value)[:10]), lang)
        except ValueError:
            pass
    return _e(value)


def _action(action: ActionLine, report: AnnualReport, lang: Language) -> str:
    t = TEXT[lang]
    title = localized(lang, action.title_fr, action.title_nl)
    partners = ", ".join(_e(p) for p in action.partners) or "—"
    status = _e(label(STATUS, lang, action.status))
    if action.traffic_light:
        status += _light(action.traffic_light, lang)
    parts = [
        f'<article class="action" id="action-{action.number}">',
        f"<h4>{t['action']} {action.number} — {_e(title)}</h4>",
        '<dl class="facts">',
        f"<dt>{t['lead']}</dt><dd>{_e(action.lead) or '—'}</dd>",
        f"<dt>{t['partners']}</dt><dd>{partners}</dd>",
        f"<dt>{t['status']}</dt><dd>{status}</dd>",
    ]
    if action.status_note.strip():
        parts.append(f'<dt>{t["note"]}</dt><dd class="note">{_e(action.status_note.strip())}</dd>')
    parts.append(f"<dt>{t['progress']}</dt><dd>{_bar(action.progress, lang)}</dd></dl>")

    if action.indicators:
        headers = [
            (t["indicator"], False),
            (t["unit"], False),
            (t["baseline"], True),
            (t["start_of_year"], True),
            (f"{t['as_of']} {fmt_date(report.as_of, lang)}", True),
            (t["target"], True),
            (t["pct_target"], True),
        ]
        rows = []
        for ind in action.indicators:
            pct = percent_of_target(ind)
            rows.append(
                [
                    _e(localized(lang, ind.name_fr, ind.name_nl)),
                    _e(label(UNIT, lang, ind.unit)),
                    fmt_number(ind.baseline, lang),
                    fmt_number(ind.value_at_start_of_year, lang),
                    fmt_number(ind.value, lang),
                    "—" if ind.target is None else fmt_number(ind.target, lang),
                    "—" if pct is None else fmt_percent(pct, lang),
                ]
            )
        parts += [f"<h5>{t['indicators']}</h5>", _table(headers, rows, "indicators")]

    if action.milestones:
        headers = [(t["milestone"], False), (t["planned_on"], False), (t["reached_on"], False), (t["state"], False)]
        rows = [
            [
                _e(localized(lang, m.title_fr, m.title_nl)),
                fmt_date(m.planned_on, lang),
                fmt_date(m.reached_on, lang) if m.reached_on else "—",
                f'<span class="state-{_e(m.state)}">{_e(label(MILESTONE_STATE, lang, m.state))}</span>',
            ]
            for m in action.milestones
        ]
        parts += [f"<h5>{t['milestones']}</h5>", _table(headers, rows, "milestones")]

    if action.changes:
        headers = [(t["date"], False), (t["field"], False), (t["change"], False)]
        rows = [
            [
                fmt_date(c.occurred_on, lang),
                _e(label(FIELD, lang, c.field)),
                f"{_change_value(c, c.old, lang)} → {_change_value(c, c.new, lang)}",
            ]
            for c in action.changes
        ]
        parts += [f"<h5>{t['changes']}</h5>", _table(headers, rows, "changes")]

    if action.decisions:
        items = "".join(f"<li>{_e(d)}</li>" for d in action.decisions)
        parts += [f"<h5>{t['decisions']}</h5>", f'<ul class="decisions">{items}</ul>']
    parts.append("</article>")
    return "\n".join(parts)


def _summary(report: AnnualReport, lang: Language) -> str:
    t = TEXT[lang]
    counts = _by_status(report)
    rows = [[_e(label(STATUS, lang, s)), str(n)] for s, n in counts.items()]
    rows.append([f"<strong>{t['total']}</strong>", f"<strong>{sum(counts.values())}</strong>"])
    parts = [
        f'<section class="summary"><h2>{t["summary"]}</h2>',
        f"<h3>{t['by_status']}</h3>",
        _table([(t["status"], False), (t["count"], True)], rows, "summary by-status"),
        f"<h3>{t['axis_progress']}</h3>",
        _table(
            [(t["axis"], False), (t["progress"], False)],
            (
                [f"{axis.number}. {_e(localized(lang, axis.title_fr, axis.title_nl))}", _bar(axis.progress, lang)]
                for axis in report.axes
            ),
            "axis-progress",
        ),
        f"<h3>{t['meetings']} {report.year}</h3>",
    ]
    if report.meetings:
        rows = [
            [fmt_date(m.held_on, lang), _e(label(MEETING_KIND, lang, m.kind)), str(m.attendees), str(m.decisions)]
            for m in sorted(report.meetings, key=lambda m: m.held_on)
        ]
        headers = [(t["date"], False), (t["kind"], False), (t["attendees"], True), (t["decisions"], True)]
        parts.append(_table(headers, rows, "meetings"))
    else:
        parts.append(f'<p class="muted">{t["no_meetings"]}</p>')
    parts.append("</section>")
    return "\n".join(parts)


def render_html(report: AnnualReport, language: Language) -> str:
    """The report as one standalone HTML5 document (inline CSS, no external assets)."""
    lang = as_language(language)
    t = TEXT[lang]
    plan = localized(lang, report.plan_title_fr, report.plan_title_nl)
    title = f"{t['report']} {report.year} — {_e(plan)}"
    colon = "\u00a0:" if lang == "fr" else ":"
    css = _CSS.replace("{{FOOTER}}", f"{t['report']} {report.year}").replace("{{PAGE}}", t["page"])
    body = [
        '<header class="title-page">',
        f"<h1>{title}</h1>",
        f"<p>{t['situation']} {fmt_date(report.as_of, lang)}</p>",
        f'<p class="generated">{t["generated"]} {_e(fmt_datetime(report.generated_at, lang))}</p>',
        "</header>",
        _summary(report, lang),
    ]
    for axis in report.axes:
        body.append(f'<section class="axis" id="axis-{axis.number}">')
        body.append(f"<h2>{t['axis']} {axis.number} — {_e(localized(lang, axis.title_fr, axis.title_nl))}</h2>")
        body.append(f"<p>{t['progress']}{colon} {_bar(axis.progress, lang)}</p>")
        for chantier in axis.chantiers:
            name = _e(localized(lang, chantier.title_fr, chantier.title_nl))
            body.append(f'<section class="chantier" id="chantier-{chantier.number}">')
            body.append(f"<h3>{t['chantier']} {chantier.number} — {name}</h3>")
            body.append(f"<p>{t['progress']}{colon} {_bar(chantier.progress, lang)}</p>")
            body.extend(_action(a, report, lang) for a in chantier.actions)
            body.append("</section>")
        body.append("</section>")
    body += [
        f'<section class="appendix"><h2>{t["method"]}</h2>',
        f"<p>{t['method_intro']}</p>",
        f'<blockquote lang="en" class="note">{_e(report.rollup_rule)}</blockquote></section>',
    ]
    return (
        f'<!DOCTYPE html>\n<html lang="{lang}">\n<head>\n<meta charset="utf-8">\n'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{title}</title>\n<style>{css}</style>\n</head>\n<body>\n" + "\n".join(body) + "\n</body>\n</html>\n"
    )


def render_pdf(html: str) -> bytes:
    """The HTML rendered to PDF by WeasyPrint (A4, page numbers from the CSS ``@page`` rules)."""
    import weasyprint  # imported here: it loads Pango at import time, and only this function needs it

    return weasyprint.HTML(string=html).write_pdf()


def _csv_number(value: float | None) -> str:
    """Machine-readable: "." decimal, no thousands separator, no trailing ".0"."""
    if value is None:
        return ""
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _csv(header: list[str], rows: Iterable[list[object]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def render_csv(report: AnnualReport) -> dict[str, str]:
    """``actions.csv`` (one row per action) and ``indicators.csv`` (one row per indicator)."""
    actions, indicators = [], []
    for axis in report.axes:
        for chantier in axis.chantiers:
            for a in chantier.actions:
                states = Counter(m.state for m in a.milestones)
                actions.append(
                    [
                        axis.number,
                        chantier.number,
                        a.number,
                        a.title_fr,
                        a.title_nl,
                        a.lead,
                        "; ".join(a.partners),
                        a.status,
                        a.traffic_light or "",
                        _csv_number(a.progress),
                        states["reached"],
                        states["overdue"],
                        states["planned"],
                        len(a.changes),
                    ]
                )
                for i in a.indicators:
                    indicators.append(
                        [
                            axis.number,
                            chantier.number,
                            a.number,
                            i.code,
                            i.name_fr,
                            i.name_nl,
                            i.unit,
                            _csv_number(i.baseline),
                            _csv_number(i.value_at_start_of_year),
                            _csv_number(i.value),
                            _csv_number(i.target),
                            _csv_number(_round(percent_of_target(i))),
                        ]
                    )
    return {
        "actions.csv": _csv(
            [
                "axis",
                "chantier",
                "action",
                "title_fr",
                "title_nl",
                "lead",
                "partners",
                "status",
                "traffic_light",
                "progress",
                "milestones_reached",
                "milestones_overdue",
                "milestones_planned",
                "changes_during_year",
            ],
            actions,
        ),
        "indicators.csv": _csv(
            [
                "axis",
                "chantier",
                "action",
                "indicator_code",
                "name_fr",
                "name_nl",
                "unit",
                "baseline",
                "value_at_start_of_year",
                "value",
                "target",
                "percent_of_target",
            ],
            indicators,
        ),
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def render_all(report: AnnualReport) -> dict[str, bytes]:
    """File name → content: the HTML and PDF in French and Dutch, and the two CSV files."""
    year = report.year
    html_fr, html_nl = render_html(report, "fr"), render_html(report, "nl")
    tables = render_csv(report)
    return {
        f"rapport-annuel-{year}-fr.html": html_fr.encode("utf-8"),
        f"jaarverslag-{year}-nl.html": html_nl.encode("utf-8"),
        f"rapport-annuel-{year}-fr.pdf": render_pdf(html_fr),
        f"jaarverslag-{year}-nl.pdf": render_pdf(html_nl),
        f"rapport-annuel-{year}-actions.csv": tables["actions.csv"].encode("utf-8"),
        f"rapport-annuel-{year}-indicateurs.csv": tables["indicators.csv"].encode("utf-8"),
    }
