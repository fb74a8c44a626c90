from __future__ import annotations

import itertools
import uuid
from datetime import date

import pytest

from services.equipment.domain import (
    Device,
    DeviceRow,
    InvalidMove,
    Request,
    SanitisationRequired,
    WipeRecord,
    add_months,
    allocate,
    declared,
    follow_up_due_on,
    latest_per_medium,
    milestones_reached,
    physical_move,
    require_sanitised,
    review,
    sanitisation_state,
)
from services.runtime.errors import Invalid

MEDIA = ["ssd-1", "hdd-2"]


def wipe(medium: str, result: str = "passed", method: str = "purge", order: int = 0) -> WipeRecord:
    return WipeRecord(medium, method, result, order)


def test_a_device_is_wiped_only_when_every_medium_passed() -> None:
    assert sanitisation_state(MEDIA, []) == "pending"
    assert sanitisation_state(MEDIA, [wipe("ssd-1")]) == "pending"
    assert sanitisation_state(MEDIA, [wipe("ssd-1"), wipe("hdd-2")]) == "wiped"
    assert sanitisation_state(MEDIA, [wipe("ssd-1", method="destroy"), wipe("hdd-2", method="destroy")]) == "destroyed"


def test_a_failure_or_a_warning_is_not_a_pass_until_a_later_record_passes() -> None:
    assert sanitisation_state(MEDIA, [wipe("ssd-1", "failed", order=1), wipe("hdd-2")]) == "failed"
    assert sanitisation_state(MEDIA, [wipe("ssd-1", "passed_with_warnings"), wipe("hdd-2")]) == "failed"
    assert (
        sanitisation_state(MEDIA, [wipe("ssd-1", "failed", order=1), wipe("ssd-1", order=2), wipe("hdd-2")]) == "wiped"
    )
    assert (
        sanitisation_state(MEDIA, [wipe("ssd-1", order=1), wipe("ssd-1", "failed", order=2), wipe("hdd-2")]) == "failed"
    )


def test_a_screen_without_storage_needs_no_wipe() -> None:
    assert sanitisation_state([], []) == "wiped"
    require_sanitised("screen", [], [])


def test_a_device_whose_media_are_unknown_is_not_sanitised_until_they_are_inspected() -> None:
    assert sanitisation_state([], [], media_known=False) == "pending"
    with pytest.raises(SanitisationRequired, match="storage media are unknown until it is inspected"):
        require_sanitised("laptop", [], [], media_known=False)
    assert declared(uuid.uuid4(), DeviceRow(asset_tag="L1", kind="laptop")).sanitisation == "pending"
    assert declared(uuid.uuid4(), DeviceRow(asset_tag="S1", kind="screen")).sanitisation == "wiped"
    assert declared(
        uuid.uuid4(), DeviceRow(asset_tag="S2", kind="screen", storage=(("emmc", 8, ""),))
    ).sanitisation == ("pending")


@pytest.mark.parametrize(
    "records",
    [
        [],
        [wipe("ssd-1")],
        [wipe("ssd-1"), wipe("hdd-2", "failed")],
        [wipe("ssd-1"), wipe("hdd-2", "passed_with_warnings")],
    ],
)
def test_allocation_is_refused_without_a_passing_wipe_of_every_medium(records: list[WipeRecord]) -> None:
    with pytest.raises(SanitisationRequired, match="no passing sanitisation for medium"):
        require_sanitised("d1", MEDIA, records)


def test_the_rule_holds_whatever_the_order_of_the_records() -> None:
    """Every order of the same records gives the same verdict as their history order says."""
    records = [wipe("ssd-1", "failed", order=1), wipe("ssd-1", order=2), wipe("hdd-2", order=3)]
    for permutation in itertools.permutations(records):
        require_sanitised("d1", MEDIA, permutation)  # the latest record of each medium passes
    failing_last = [wipe("ssd-1", order=1), wipe("hdd-2", order=2), wipe("ssd-1", "failed", order=3)]
    for permutation in itertools.permutations(failing_last):
        with pytest.raises(SanitisationRequired):
            require_sanitised("d1", MEDIA, permutation)


def test_physical_moves_follow_the_refurbishing_flow() -> None:
    physical_move("d", "received", "refurbished")
    with pytest.raises(InvalidMove, match="disposed: it cannot become refurbished"):
        physical_move("d", "disposed", "refurbished")


def stock(kind: str, n: int, grade: str = "B") -> list[Device]:
    return [Device(f"{kind}-{i:03}", kind, grade) for i in range(n)]


def request(id: str, kind: str = "pupils-association", laptops: int = 10, day: int = 1, priority: int = 0) -> Request:
    return Request(id, f"org-{id}", kind, {"laptop": laptops}, {}, date(2024, 1, day), priority)


def test_the_longest_waiting_request_is_served_first_and_the_rest_waits() -> None:
    proposal = allocate([request("late", day=9), request("early", day=2)], stock("laptop", 15), {}, {})
    assert len(proposal.allocations["early"]) == 10
    assert len(proposal.allocations["late"]) == 5
    assert proposal.unmet == {"late": {"laptop": 5}}


def test_priority_comes_before_waiting_time() -> None:
    proposal = allocate([request("early", day=1), request("urgent", day=9, priority=1)], stock("laptop", 10), {}, {})
    assert list(proposal.allocations) == ["urgent"]


def test_a_cap_per_recipient_kind_is_never_exceeded_counting_what_was_used() -> None:
    caps = {"retirement-home": {"laptop": 12}}
    used = {"retirement-home": {"laptop": 5}}
    requests = [
        request("a", "retirement-home", 5, 1),
        request("b", "retirement-home", 5, 2),
        request("c", laptops=5, day=3),
    ]
    proposal = allocate(requests, stock("laptop", 30), caps, used)
    assert {k: len(v) for k, v in proposal.allocations.items()} == {"a": 5, "b": 2, "c": 5}
    assert proposal.capped == {"b": {"laptop": 3}}
    assert proposal.unmet == {"b": {"laptop": 3}}


def test_better_grades_go_first_and_no_device_is_given_twice() -> None:
    devices = [*stock("laptop", 3, "C"), Device("best", "laptop", "A")]
    proposal = allocate([request("a", laptops=1), request("b", laptops=3, day=2)], devices, {}, {})
    assert proposal.allocations["a"] == ["best"]
    given = [d for ids in proposal.allocations.values() for d in ids]
    assert len(given) == len(set(given)) == 4


def test_what_was_already_allocated_to_a_request_is_not_given_again() -> None:
    partly = Request("p", "org", "epn", {"laptop": 10}, {"laptop": 8}, date(2024, 1, 1))
    assert len(allocate([partly], stock("laptop", 10), {}, {}).allocations["p"]) == 2


def test_the_latest_record_of_a_medium_is_the_later_in_the_history_whatever_it_reports_or_the_order_given() -> None:
    early, late = wipe("ssd-1", "failed", order=7), wipe("ssd-1", "passed", order=9)
    assert latest_per_medium([late, early]) == {"ssd-1": late}
    assert latest_per_medium([early, wipe("hdd-2", order=8)])["ssd-1"] is early


def test_a_follow_up_is_due_every_six_months_and_a_long_stop_sends_the_latest_only() -> None:
    assert add_months(date(2024, 8, 31), 6) == date(2025, 2, 28)
    assert follow_up_due_on(date(2024, 11, 6), date(2024, 11, 6)) == date(2024, 11, 6)
    assert follow_up_due_on(date(2024, 11, 6), date(2026, 1, 1)) == date(2025, 11, 6)


def test_each_milestone_is_reached_once_and_delivered_needs_a_delivery() -> None:
    counts = {"declared": 2, "received": 2, "wiped": 1, "failed": 1, "delivered": 0, "settled": 2}
    nothing_told = {"received": False, "sanitised": False, "delivered": False}
    assert milestones_reached(nothing_told, counts) == ["received", "sanitised"]
    assert milestones_reached({**nothing_told, "received": True}, {**counts, "delivered": 1}) == [
        "sanitised",
        "delivered",
    ]


def test_a_review_grants_what_was_asked_part_of_it_or_nothing_with_a_reason() -> None:
    asked = {"laptop": 3, "tablet": 1}
    assert review("accepted", asked, None, "") == asked
    assert review("partially_accepted", asked, {"laptop": 2}, "") == {"laptop": 2}
    assert review("refused", asked, None, "no stock") == {}
    for decision, granted, reason in (
        ("partially_accepted", {"laptop": 4}, ""),
        ("partially_accepted", {}, ""),
        ("refused", None, ""),
    ):
        with pytest.raises(Invalid):
            review(decision, asked, granted, reason)
