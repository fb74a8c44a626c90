"""The annual report flags every indicator behind its target at the end of the report's year: a
yearly indicator against its yearly target, an indicator over years against its target pro rata of
the years elapsed; in words in both languages (never by colour alone) and in a CSV column."""

from __future__ import annotations

import csv
import dataclasses
import io
from datetime import date
from typing import cast

import pytest

from services.actions.handlers.annual_report import build_annual_report
from services.actions.handlers.governance import RecordMeeting, record_meeting
from services.actions.report.files import render_csv
from services.actions.report.html_render import render_html
from services.actions.report.model import AnnualReport, IndicatorLine
from services.actions.report.targets import TargetCheck, target_check
from services.actions.sql import ActionsRepository
from services.runtime.inputs import brussels_today

from .conftest import Store, acting
from .test_report_render import sample_report


def indicator(value: float, target: float | None, period: str, baseline: float = 0) -> IndicatorLine:
    return IndicatorLine("a1-x", "X", "X", "devices", baseline, target, value, 0, period)


def report_of(year: int, as_of: date | None = None) -> AnnualReport:
    return dataclasses.replace(sample_report(), year=year, as_of=as_of or date(year, 12, 31))


@pytest.mark.parametrize(
    ("line", "year", "expected"),
    [
        (indicator(3, 4, "yearly"), 2024, TargetCheck(4, behind=True)),  # 3 Working Group meetings of 4
        (indicator(4, 4, "yearly"), 2024, TargetCheck(4, behind=False)),
        (indicator(40, 100, "2021-2024"), 2022, TargetCheck(50, behind=True)),  # 2 years of 4 elapsed
        (indicator(50, 100, "2021-2024"), 2022, TargetCheck(50, behind=False)),
        (indicator(40, 100, "2021-2024", baseline=20), 2022, TargetCheck(60, behind=True)),
        (indicator(90, 100, "2021-2024"), 2024, TargetCheck(100, behind=True)),  # the whole target, last year
        (indicator(90, 100, "2021-2024"), 2026, TargetCheck(100, behind=True)),  # and after
        (indicator(100, 100, "2024"), 2024, TargetCheck(100, behind=False)),  # a one-year period
        (indicator(85, 60, "2021-2024", baseline=100), 2022, TargetCheck(80, behind=True)),  # a fall to reach
        (indicator(80, 60, "2021-2024", baseline=100), 2022, TargetCheck(80, behind=False)),
        (indicator(1, 3, "2021 – 2023"), 2021, TargetCheck(1, behind=False)),
    ],
)
def test_an_indicator_is_judged_against_what_was_expected_at_the_end_of_the_reports_year(
    line: IndicatorLine, year: int, expected: TargetCheck
) -> None:
    assert target_check(line, report_of(year)) == expected


@pytest.mark.parametrize(
    ("line", "year", "as_of", "why"),
    [
        (indicator(3, None, "yearly"), 2024, None, "no target"),
        (indicator(3, 4, ""), 2024, None, "no period"),
        (indicator(3, 4, "pendant le plan"), 2024, None, "a period that is not years"),
        (indicator(3, 4, "2024-2021"), 2024, None, "a period that ends before it begins"),
        (indicator(0, 100, "2025-2028"), 2024, None, "a period not begun"),
        (indicator(1, 4, "yearly"), 2024, date(2024, 6, 30), "a preview before the year has ended"),
    ],
)
def test_an_indicator_is_not_judged_without_a_target_a_period_of_years_or_a_year_ended(
    line: IndicatorLine, year: int, as_of: date | None, why: str
) -> None:
    assert target_check(line, report_of(year, as_of)) is None, why


def test_the_html_says_in_words_which_indicators_are_behind_and_lists_them_in_the_summary() -> None:
    report = sample_report()  # 2024, as of 31 December: a21's 3 meetings of 4, its budget 1,234.5 of 2,000
    html = render_html(report, "fr")
    flag = '<strong class="behind"><span aria-hidden="true">⚠ </span>En retard sur la cible</strong>'
    assert html.count(flag) == 2
    assert f"{flag}<br>attendu\u00a0: 4" in html
    summary = html[html.index('<section class="summary">') : html.index('<section class="axis"')]
    assert "<h3>Indicateurs en retard sur la cible</h3>" in summary
    assert '<td><a href="#action-21">21</a></td><td>Réunions du Groupe de travail</td>' in summary
    assert "<th>Suivi de la cible</th>" in html
    assert "<h3>Suivi des cibles</h3>" in html and "Un indicateur annuel" in html, "the rule, in the appendix"
    nl = render_html(report, "nl")
    assert '<span aria-hidden="true">⚠ </span>Achter op het doel</strong><br>verwacht: 4' in nl
    assert "<h3>Indicatoren achter op het doel</h3>" in nl and "Opvolging van de doelen" in nl
    assert "En retard" not in nl


def test_a_report_cut_off_before_the_end_of_its_year_says_targets_are_not_judged_yet() -> None:
    preview = dataclasses.replace(sample_report(), as_of=date(2024, 6, 30))
    html = render_html(preview, "fr")
    assert 'class="behind"' not in html and "Conforme à la cible" not in html
    assert "les cibles ne sont pas encore évaluées" in html


def test_a_year_without_an_indicator_behind_says_so() -> None:
    report = sample_report()
    axis = report.axes[0]
    a21 = axis.chantiers[0].actions[0]
    met = dataclasses.replace(
        a21, indicators=tuple(dataclasses.replace(i, value=i.target or 0) for i in a21.indicators)
    )
    chantier = dataclasses.replace(axis.chantiers[0], actions=(met,))
    on_target = dataclasses.replace(report, axes=(dataclasses.replace(axis, chantiers=(chantier,)), *report.axes[1:]))
    html = render_html(on_target, "nl")
    assert "Geen enkele indicator staat achter op het doel." in html
    assert html.count("In lijn met het doel<br>verwacht:") == 2


def test_the_indicators_csv_has_what_was_expected_and_whether_it_is_behind() -> None:
    files = render_csv(sample_report())
    rows = {r["indicator_code"]: r for r in csv.DictReader(io.StringIO(files["indicators.csv"]))}
    meetings, budget, devices = rows["a21-wg-meetings"], rows["a21-budget"], rows["a29-devices-first-line"]
    assert (meetings["expected_at_year_end"], meetings["behind_target"]) == ("4", "true")
    assert (budget["expected_at_year_end"], budget["behind_target"]) == ("2000", "true")
    assert (devices["expected_at_year_end"], devices["behind_target"]) == ("", ""), "no target: not judged"
    assert render_csv(sample_report()) == files, "the same report, the same bytes"
    assert render_html(sample_report(), "fr") == render_html(sample_report(), "fr")


async def test_a_year_with_three_of_the_four_working_group_meetings_is_flagged_behind(store: Store) -> None:
    for day in (date(2024, 3, 12), date(2024, 6, 18), date(2024, 10, 1)):
        await record_meeting(acting(store), RecordMeeting("working_group", day, ["caban"], [], []))
    # Recorded today: a cut-off of today sees them; the year 2024 has ended by then.
    report = await build_annual_report(cast(ActionsRepository, store.repo), 2024, brussels_today())
    [a21] = [a for a in report.actions() if a.number == 21]
    [meetings] = a21.indicators
    assert (meetings.value, meetings.target, target_check(meetings, report)) == (3, 4, TargetCheck(4, behind=True))
    html = render_html(report, "fr")
    assert '<td><a href="#action-21">21</a></td><td>Réunions du Groupe de Travail tenues dans l&#x27;année</td>' in html
    assert "75\u202f%" in html, "the share of the target, as before, and now the flag beside it"
