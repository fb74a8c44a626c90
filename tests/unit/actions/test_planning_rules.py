from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from services.actions.domain import (
    ActionState,
    InvalidTransition,
    authorise_report,
    milestone_state,
    progress_from_milestones,
    report_transition,
    weighted_average,
)
from services.runtime.errors import Forbidden

ACTION = ActionState(number=38, lead="bruxelles-formation", status="in_progress", traffic_light=None, status_note="")


def test_progress_from_milestones_is_the_share_reached() -> None:
    assert progress_from_milestones(0, 0) == 0
    assert progress_from_milestones(3, 1) == Decimal("33.33")
    assert progress_from_milestones(4, 4) == 100


def test_the_weighted_average_uses_the_weights() -> None:
    assert weighted_average([(Decimal(80), Decimal(3)), (Decimal(40), Decimal(1))]) == Decimal(70)
    assert weighted_average([]) == 0


@pytest.mark.parametrize(
    ("status", "verb", "expected"),
    [
        ("draft", "submit", "submitted"),
        ("returned", "submit", "submitted"),
        ("submitted", "approve", "approved"),
        ("submitted", "return", "returned"),
    ],
)
def test_reports_move_as_allowed(status: str, verb: str, expected: str) -> None:
    assert report_transition("r", status, verb) == expected


@pytest.mark.parametrize(
    ("status", "verb"), [("draft", "approve"), ("approved", "return"), ("approved", "submit"), ("submitted", "submit")]
)
def test_other_report_moves_are_refused(status: str, verb: str) -> None:
    with pytest.raises(InvalidTransition, match=f"cannot {verb}"):
        report_transition("r", status, verb)


def test_owners_submit_and_only_the_coordination_approves() -> None:
    authorise_report("submit", "owner", "bruxelles-formation", ACTION)
    authorise_report("approve", "coordination", "coordination-inclusion-numerique", ACTION)
    with pytest.raises(Forbidden):
        authorise_report("approve", "owner", "bruxelles-formation", ACTION)
    with pytest.raises(Forbidden):
        authorise_report("submit", "owner", "actiris", ACTION)


def test_a_milestone_is_reached_overdue_or_planned_as_of_a_date() -> None:
    planned = date(2024, 6, 30)
    assert milestone_state(planned, date(2024, 6, 1), date(2024, 12, 31)) == "reached"
    assert milestone_state(planned, date(2025, 1, 5), date(2024, 12, 31)) == "overdue", "reached after the cut-off"
    assert milestone_state(planned, None, date(2024, 6, 30)) == "planned"
    assert milestone_state(planned, None, date(2024, 7, 1)) == "overdue"
