"""The annual report folds an action's history up to the cut-off: pure, so tested without a database."""

from __future__ import annotations

from datetime import UTC, date, datetime

from services.actions.report.assembly import end_of, fold_action
from services.actions.report.model import ActionLine

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
