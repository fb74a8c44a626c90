"""Whether an indicator is behind its target in the annual report: the rule, as a pure function
of the indicator's line and the report's year and cut-off.

The report judges a year that has ended: a cut-off before 31 December (a preview) judges
nothing, since a yearly target is due at the end of the year, and any other target at the end of
a year. Then, at the end of the report's year:

* a **yearly** indicator (``period`` "yearly": a count that restarts each year, e.g. action 21's
  Working Group meetings) is expected to have reached its target within the year: the year's
  value is compared with the target (3 meetings of 4 is behind);
* an indicator over a **period of years** (``period`` "2021-2024", or one year "2024") adds up
  over the period, and is expected to move from its baseline to its target evenly, year by year:
  at the end of the report's year it should show the baseline plus the share of the period's
  years elapsed by then of the way to the target (the whole target in the period's last year and
  after). A period that has not begun yet expects nothing;
* an indicator without a target, or whose period is not a year or a span of years, is not judged.

A target below the baseline is a fall to reach: the indicator is then behind when its value is
above what was expected. Being at least as far as expected is "on target". The rule is written
out in the report itself (``texts.TARGET_RULE``) and in the service's README.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from .. import domain
from .model import AnnualReport, IndicatorLine

_YEARS = re.compile(r"^\s*(\d{4})\s*(?:[-–]\s*(\d{4})\s*)?$")


@dataclass(frozen=True)
class TargetCheck:
    expected: float  # what the indicator should show at the end of the report's year
    behind: bool


def covers_whole_year(report: AnnualReport) -> bool:
    """Whether the report's cut-off is on or after the last day of its year: only then are targets judged."""
    return report.as_of >= date(report.year, 12, 31)


def target_check(indicator: IndicatorLine, report: AnnualReport) -> TargetCheck | None:
    """The indicator against its target at the end of the report's year, or None if the report
    does not judge it (see the module's docstring)."""
    target, baseline = indicator.target, indicator.baseline
    if target is None or not covers_whole_year(report):
        return None
    if indicator.period == domain.YEARLY:
        expected = target
    else:
        years = _years(indicator.period)
        if years is None or report.year < years[0]:
            return None
        first, last = years
        elapsed = min(report.year, last) - first + 1
        expected = baseline + (target - baseline) * elapsed / (last - first + 1)
    expected = round(expected, 4)  # as measurements are kept (4 decimals): no float noise decides
    behind = indicator.value > expected if target < baseline else indicator.value < expected
    return TargetCheck(expected, behind)


def behind_target(report: AnnualReport) -> list[tuple[int, IndicatorLine, TargetCheck]]:
    """(action number, indicator, check) of every indicator behind its target, in the plan's order."""
    found = []
    for action in report.actions():
        for indicator in action.indicators:
            check = target_check(indicator, report)
            if check is not None and check.behind:
                found.append((action.number, indicator, check))
    return found


def _years(period: str) -> tuple[int, int] | None:
    match = _YEARS.match(period)
    if match is None:
        return None
    first = int(match.group(1))
    last = int(match.group(2) or first)
    return (first, last) if first <= last else None
