"""The annual report's files: the HTML in French and Dutch, their PDFs (WeasyPrint), and two
machine-readable CSV files. The same report always gives the same bytes (its files' SHA-256
travel on ``AnnualReportPublished``). CSV files are written by ``services.runtime.inputs.write_csv``,
spreadsheet-safe: a title that starts with = + - @ is shown, never run, by the spreadsheet that
opens the file."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

from services.runtime.inputs import write_csv

from .html_render import render_html
from .model import AnnualReport, percent_of_target
from .targets import TargetCheck, target_check


def render_pdf(html: str) -> bytes:
    """The HTML rendered to PDF by WeasyPrint (A4, page numbers from the CSS ``@page`` rules)."""
    import weasyprint  # imported here: it loads Pango at import time, and only this function needs it

    return weasyprint.HTML(string=html).write_pdf()


def _csv_number(value: float | None) -> Decimal | str:
    """Machine-readable: "." decimal, no thousands separator, no trailing ".0"; a number (not
    text), so that ``spreadsheet_safe`` leaves a negative one alone."""
    if value is None:
        return ""
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    return Decimal("0" if text in ("-0", "") else text)


def render_csv(report: AnnualReport) -> dict[str, str]:
    """``actions.csv`` (one row per action) and ``indicators.csv`` (one row per indicator; with
    what was expected of it at the end of the year and whether it is behind its target, by the rule
    of ``report.targets``)."""
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
                    check = target_check(i, report)
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
                            _csv_number(None if check is None else check.expected),
                            _behind(check),
                        ]
                    )
    return {
        "actions.csv": write_csv(
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
            line_end="\n",  # LF, as these files always had: the same report, the same bytes and hashes
        ),
        "indicators.csv": write_csv(
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
                "expected_at_year_end",
                "behind_target",
            ],
            indicators,
            line_end="\n",
        ),
    }


def _behind(check: TargetCheck | None) -> str:
    """The ``behind_target`` cell: true or false; empty when the report does not judge the
    indicator (``report.targets``)."""
    if check is None:
        return ""
    return "true" if check.behind else "false"


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
