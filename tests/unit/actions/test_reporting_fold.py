"""The annual report folds an action's history up to the cut-off: pure, so tested without a database."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from services.actions.report.assembly import end_of, fold_action
from services.actions.report.model import ActionLine
from services.runtime.inputs import BRUSSELS

ACTION = {"number": 46, "title_fr": "Déclassement", "title_nl": "", "lead": "Coordination", "partners": ["CABAN"]}


def row(when: str, event_type: str, data: dict, changes: list | None = None) -> dict:
    return {
        "occurred_at": datetime.fromisoformat(when).replace(tzinfo=UTC),
        "event_type": event_type,
        "data": data,
        "changes": changes or [],
    }


HISTORY = [
    row(
        "2023-05-01T10:00",
        "ActionStatusChanged",
        {"status": "planned", "traffic_light": None, "note": ""},
        [{"field": "status", "old": "not_started", "new": "planned"}],
    ),
    row(
        "2023-06-01T10:00",
        "IndicatorDefined",
        {
            "indicator_code": "a46",
            "name_fr": "Appareils",
            "name_nl": "",
            "unit": "devices",
            "baseline": 0,
            "target": 100,
            "period": "2021-2024",
        },
    ),
    row(
        "2023-11-01T10:00",
        "IndicatorMeasured",
        {
            "indicator_code": "a46",
            "indicator_name_fr": "Appareils",
            "indicator_name_nl": "",
            "unit": "devices",
            "value": 10,
            "previous_value": 0,
            "target": 100,
        },
    ),
    row(
        "2024-02-01T10:00",
        "ActionStatusChanged",
        {"status": "in_progress", "traffic_light": "at_risk", "note": "lent"},
        [{"field": "status", "old": "planned", "new": "in_progress"}],
    ),
    row(
        "2024-03-01T10:00",
        "MilestonePlanned",
        {"milestone_id": "m1", "title_fr": "Convention", "planned_on": "2024-04-30"},
    ),
    row(
        "2024-03-02T10:00", "MilestonePlanned", {"milestone_id": "m2", "title_fr": "Lot 1", "planned_on": "2024-06-30"}
    ),
    row(
        "2024-04-20T10:00",
        "MilestoneReached",
        {"milestone_id": "m1", "title_fr": "Convention", "planned_on": "2024-04-30", "reached_on": "2024-04-20"},
    ),
    row(
        "2024-05-01T10:00",
        "IndicatorMeasured",
        {
            "indicator_code": "a46",
            "indicator_name_fr": "Appareils",
            "indicator_name_nl": "",
            "unit": "devices",
            "value": 35,
            "previous_value": 10,
            "target": 100,
        },
        [{"field": "value", "old": 10, "new": 35}],
    ),
    row("2024-05-02T10:00", "DecisionRecorded", {"held_on": "2024-05-02", "decision": "Accélérer"}),
]


def fold(as_of: date) -> ActionLine:
    cutoff = end_of(as_of)
    return fold_action(
        ACTION, [r for r in HISTORY if r["occurred_at"] < cutoff], datetime(2024, 1, 1, tzinfo=UTC), as_of
    )


def test_the_state_at_the_cut_off_comes_from_the_history() -> None:
    line = fold(date(2024, 12, 31))
    assert (line.status, line.traffic_light, line.status_note) == ("in_progress", "at_risk", "lent")
    [indicator] = line.indicators
    assert (indicator.value_at_start_of_year, indicator.value, indicator.target) == (10, 35, 100)
    assert [(m.title_fr, m.state) for m in line.milestones] == [("Convention", "reached"), ("Lot 1", "overdue")]
    assert [(c.field, c.new) for c in line.changes] == [("status", "in_progress"), ("value", 35)]
    assert line.decisions == ("2024-05-02 — Accélérer",)


def test_an_earlier_cut_off_sees_only_what_was_recorded_by_then() -> None:
    line = fold(date(2024, 3, 1))
    assert line.status == "in_progress"
    assert line.indicators[0].value == 10
    assert [(m.title_fr, m.state) for m in line.milestones] == [("Convention", "planned")]
    assert line.decisions == ()


def meetings_measured(when: str, measured_on: str, value: int) -> dict:
    return row(
        when,
        "IndicatorMeasured",
        {
            "indicator_code": "a21",
            "indicator_name_fr": "Réunions",
            "indicator_name_nl": "",
            "unit": "meetings",
            "value": value,
            "previous_value": value - 1,
            "target": 4,
            "measured_on": measured_on,
            "origin": "derived",
        },
        [{"field": "value", "old": value - 1, "new": value}],
    )


YEARLY = [
    row(
        "2023-01-10T10:00",
        "IndicatorDefined",
        {
            "indicator_code": "a21",
            "name_fr": "Réunions",
            "name_nl": "",
            "unit": "meetings",
            "baseline": 0,
            "target": 4,
            "period": "yearly",
        },
    ),
    meetings_measured("2023-11-20T10:00", "2023-11-20", 1),
    meetings_measured("2024-03-12T10:00", "2024-03-12", 1),
    meetings_measured("2024-06-18T10:00", "2024-06-18", 2),
    meetings_measured("2024-09-01T10:00", "2023-12-05", 2),  # a 2023 meeting recorded late
    meetings_measured("2024-10-01T10:00", "2024-10-01", 3),
    meetings_measured("2025-01-20T10:00", "2025-01-20", 1),
]


@pytest.mark.parametrize(
    ("year", "as_of", "expected"), [(2024, "2025-01-31", 3), (2023, "2024-12-31", 2), (2025, "2025-01-31", 1)]
)
def test_a_yearly_indicator_shows_the_reports_year_whatever_was_recorded_last(
    year: int, as_of: str, expected: int
) -> None:
    cutoff = end_of(date.fromisoformat(as_of))
    line = fold_action(
        ACTION,
        [r for r in YEARLY if r["occurred_at"] < cutoff],
        datetime(year, 1, 1, tzinfo=BRUSSELS),
        date.fromisoformat(as_of),
    )
    [indicator] = line.indicators
    assert (indicator.value, indicator.value_at_start_of_year) == (expected, 0), "a count that restarts each year"


def test_a_change_is_dated_by_its_day_in_brussels() -> None:
    late = row(
        "2024-06-30T22:30", "ActionStatusChanged", {"status": "planned"}, [{"field": "status", "new": "planned"}]
    )
    line = fold_action(ACTION, [late], datetime(2024, 1, 1, tzinfo=BRUSSELS), date(2024, 12, 31))
    assert [c.occurred_on for c in line.changes] == [date(2024, 7, 1)], "00:30 on 1 July in Brussels"


def report_moved(when: str, kind: str, report_id: str, status: str, previous: str, comment: str = "") -> dict:
    changes = [{"field": "status", "old": previous, "new": status}]
    if comment:
        changes.append({"field": "comment", "old": "", "new": comment})
    return row(when, kind, {"report_id": report_id, "status": status, "comment": comment}, changes)


def test_the_moves_of_a_progress_report_are_in_the_public_report_only_once_it_is_approved() -> None:
    """A report not approved is read by its action's organisations only: its moves (a return's
    comment above all) stay out of the annual report, which anyone reads."""
    history = [
        report_moved("2024-03-01T10:00", "ReportSubmitted", "r-2023", "submitted", "draft"),
        report_moved("2024-03-02T10:00", "ReportApproved", "r-2023", "approved", "submitted"),
        report_moved("2024-09-01T10:00", "ReportSubmitted", "r-2024", "submitted", "draft"),
        report_moved("2024-09-02T10:00", "ReportReturned", "r-2024", "returned", "submitted", "Budget faux."),
        report_moved("2024-12-20T10:00", "ReportSubmitted", "r-2024", "submitted", "returned"),
    ]
    year_start = datetime(2024, 1, 1, tzinfo=BRUSSELS)
    line = fold_action(ACTION, history, year_start, date(2024, 12, 31))
    assert [(c.event_type, c.new) for c in line.changes] == [
        ("ReportSubmitted", "submitted"),
        ("ReportApproved", "approved"),
    ], "the 2024 report was not approved by the cut-off"

    approved = report_moved("2025-01-10T10:00", "ReportApproved", "r-2024", "approved", "submitted")
    later = fold_action(ACTION, [*history, approved], year_start, date(2025, 1, 31))
    assert ("comment", "Budget faux.") in [(c.field, c.new) for c in later.changes], "approved since: shared"
