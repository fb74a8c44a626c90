"""The annual report (``report.model.AnnualReport``) as a standalone, print-friendly HTML document
in French or Dutch.

Pure functions: no template engine, every text from the data goes through ``html.escape``.
Labels and number/date formatting are in ``passerelle_contracts.i18n``, the report's own texts in
``report.texts``."""

from __future__ import annotations

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

from .model import ActionLine, AnnualReport, Change, percent_of_target
from .style import CSS
from .targets import TargetCheck, behind_target, covers_whole_year, target_check
from .texts import MILESTONE_STATE, TEXT


def _e(value: object) -> str:
    return escape(str(value), quote=True)


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
        + "".join(
            f'<td class="num">{c}</td>' if num else f"<td>{c}</td>" for c, (_, num) in zip(r, headers, strict=True)
        )
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


def _target(check: TargetCheck | None, lang: Language) -> str:
    """The indicator against its target, in words (never by colour alone: WCAG 1.4.1), with what
    was expected; the warning sign is decoration, hidden from screen readers."""
    t = TEXT[lang]
    if check is None:
        return "—"
    expected = f"{t['expected']} {fmt_number(check.expected, lang)}"
    if check.behind:
        return f'<strong class="behind"><span aria-hidden="true">⚠ </span>{t["behind"]}</strong><br>{expected}'
    return f"{t['on_target']}<br>{expected}"


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
            (t["target_check"], False),
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
                    _target(target_check(ind, report), lang),
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
    parts += [f"<h3>{t['behind_list']}</h3>", _behind(report, lang), "</section>"]
    return "\n".join(parts)


def _behind(report: AnnualReport, lang: Language) -> str:
    """Every indicator behind its target, each linked to its action's section."""
    t = TEXT[lang]
    if not covers_whole_year(report):
        return f'<p class="muted">{t["not_judged"]}</p>'
    found = behind_target(report)
    if not found:
        return f'<p class="muted">{t["none_behind"]}</p>'
    headers = [
        (t["action"], False),
        (t["indicator"], False),
        (t["value"], True),
        (f"{t['expected_at']} {report.year}", True),
    ]
    rows = [
        [
            f'<a href="#action-{number}">{number}</a>',
            _e(localized(lang, ind.name_fr, ind.name_nl)),
            fmt_number(ind.value, lang),
            fmt_number(check.expected, lang),
        ]
        for number, ind, check in found
    ]
    return _table(headers, rows, "behind-target")


def render_html(report: AnnualReport, language: Language) -> str:
    """The report as one standalone HTML5 document (inline CSS, no external assets)."""
    lang = as_language(language)
    t = TEXT[lang]
    plan = localized(lang, report.plan_title_fr, report.plan_title_nl)
    title = f"{t['report']} {report.year} — {_e(plan)}"
    colon = "\u00a0:" if lang == "fr" else ":"
    css = CSS.replace("{{FOOTER}}", f"{t['report']} {report.year}").replace("{{PAGE}}", t["page"])
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
        f'<blockquote lang="en" class="note">{_e(report.rollup_rule)}</blockquote>',
        f"<h3>{t['target_rule_title']}</h3>",
        f"<p>{_e(t['target_rule'])}</p></section>",
    ]
    return (
        f'<!DOCTYPE html>\n<html lang="{lang}">\n<head>\n<meta charset="utf-8">\n'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{title}</title>\n<style>{css}</style>\n</head>\n<body>\n" + "\n".join(body) + "\n</body>\n</html>\n"
    )
