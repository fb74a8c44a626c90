from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

import services.actions
from services.actions.domain import (
    TRANSITIONS,
    ActionState,
    IndicatorMapping,
    InvalidTransition,
    SetValue,
    authorise_update,
    change_status,
    check_mappings,
    day_in_year,
    derived_amounts,
    derived_values,
    is_stale,
    orders_per_year,
)
from services.runtime.errors import Conflict, Forbidden

ACTION = ActionState(
    number=46, lead="coordination-inclusion-numerique", status="planned", traffic_light=None, status_note=""
)


def test_a_planned_action_can_start_and_reports_every_changed_field() -> None:
    changes = change_status(ACTION, "in_progress", "on_track", "kick-off")
    assert [(c.field, c.old, c.new) for c in changes] == [
        ("status", "planned", "in_progress"),
        ("traffic_light", None, "on_track"),
        ("status_note", "", "kick-off"),
    ]


def test_an_invalid_transition_is_refused_with_the_allowed_moves() -> None:
    with pytest.raises(
        InvalidTransition, match=r"cannot go from planned to completed \(allowed: abandoned, in_progress, on_hold"
    ):
        change_status(ACTION, "completed", None, "")


def test_a_change_that_changes_nothing_is_a_conflict() -> None:
    with pytest.raises(Conflict, match="already planned"):
        change_status(ACTION, "planned", None, "")


def test_keeping_the_status_but_changing_the_traffic_light_is_allowed() -> None:
    changes = change_status(ACTION, "planned", "at_risk", "")
    assert [c.field for c in changes] == ["traffic_light"]


def test_nothing_returns_to_not_started() -> None:
    assert all("not_started" not in targets for targets in TRANSITIONS.values())


def test_the_coordination_updates_any_action_an_owner_only_its_own() -> None:
    authorise_update("coordination", "coordination-inclusion-numerique", ACTION)
    authorise_update("owner", "coordination-inclusion-numerique", ACTION)
    with pytest.raises(Forbidden):
        authorise_update("owner", "actiris", ACTION)
    with pytest.raises(Forbidden):
        authorise_update("partner", "coordination-inclusion-numerique", ACTION)


MAPPINGS = [
    IndicatorMapping("DevicesDelivered", {"recipient_kind": ["pupils-association"]}, "a46", "total_devices"),
    IndicatorMapping("DevicesDelivered", {"donor_kind": ["regional-public-body"]}, "a57", "total_devices"),
    IndicatorMapping("GrantAwarded", {"call_kind": ["regional-call"], "public": ["seniors"]}, "a49", "count"),
]


def test_a_delivery_to_a_pupils_association_from_a_public_body_counts_for_both_indicators() -> None:
    payload = {"recipient_kind": "pupils-association", "donor_kind": "regional-public-body", "total_devices": 25}
    assert derived_amounts(MAPPINGS, "DevicesDelivered", payload) == {"a46": Decimal(25), "a57": Decimal(25)}


def test_a_delivery_to_a_retirement_home_does_not_count_for_pupils() -> None:
    assert (
        derived_amounts(MAPPINGS, "DevicesDelivered", {"recipient_kind": "retirement-home", "total_devices": 3}) == {}
    )


def test_a_grant_counts_one_when_every_condition_matches() -> None:
    assert derived_amounts(MAPPINGS, "GrantAwarded", {"call_kind": "regional-call", "public": "seniors"}) == {"a49": 1}
    assert derived_amounts(MAPPINGS, "GrantAwarded", {"call_kind": "esf", "public": "seniors"}) == {}


def test_a_mapping_whose_amount_field_is_missing_fails_loudly() -> None:
    with pytest.raises(ValueError, match="needs field 'total_devices'"):
        derived_amounts(MAPPINGS, "DevicesDelivered", {"recipient_kind": "pupils-association"})


def test_the_retirement_homes_indicator_counts_the_tablets_delivered_not_every_device() -> None:
    """Issue 10: indicator 52 is "tablets delivered to retirement homes"; it counted laptops too."""
    tablets = IndicatorMapping("DevicesDelivered", {"recipient_kind": ["retirement-home"]}, "a52", "devices.tablet")
    delivery = {"recipient_kind": "retirement-home", "devices": {"tablet": 4, "laptop": 6}, "total_devices": 10}
    laptops_only = {"recipient_kind": "retirement-home", "devices": {"laptop": 6}, "total_devices": 6}

    assert derived_amounts([tablets], "DevicesDelivered", delivery) == {"a52": Decimal(4)}
    assert derived_amounts([tablets], "DevicesDelivered", laptops_only) == {}


LABELS = IndicatorMapping("EpnLabelStatusChanged", {}, "a11", "labelled_epns", mode="set", order="register_version")
DECISION = {"epn": "epn-ixelles", "status": "withdrawn", "labelled_epns": 0, "register_version": 42}


def test_a_set_mapping_gives_the_event_s_figure_and_its_order_and_zero_is_a_figure() -> None:
    assert derived_values([*MAPPINGS, LABELS], "EpnLabelStatusChanged", DECISION) == {"a11": SetValue(Decimal(0), 42)}
    assert derived_amounts([*MAPPINGS, LABELS], "EpnLabelStatusChanged", DECISION) == {}, "nothing to add"
    assert derived_values([*MAPPINGS, LABELS], "DevicesDelivered", {"recipient_kind": "pupils-association"}) == {}


def test_add_mappings_add_as_before_beside_a_set_mapping() -> None:
    payload = {"recipient_kind": "pupils-association", "donor_kind": "other", "total_devices": 7}
    assert derived_amounts([*MAPPINGS, LABELS], "DevicesDelivered", payload) == {"a46": Decimal(7)}
    assert derived_values([*MAPPINGS, LABELS], "DevicesDelivered", payload) == {}


def test_a_set_mapping_whose_value_or_order_is_missing_fails_loudly() -> None:
    with pytest.raises(ValueError, match="needs field 'labelled_epns'"):
        derived_values([LABELS], "EpnLabelStatusChanged", {"register_version": 3})
    with pytest.raises(ValueError, match="needs an integer field 'register_version'"):
        derived_values([LABELS], "EpnLabelStatusChanged", {"labelled_epns": 3})
    with pytest.raises(ValueError, match="needs an integer field 'register_version'"):
        derived_values([LABELS], "EpnLabelStatusChanged", {"labelled_epns": 3, "register_version": "3"})


def test_a_set_mapping_without_an_order_always_applies() -> None:
    unordered = IndicatorMapping("EpnLabelStatusChanged", {}, "a11", "labelled_epns", mode="set")
    assert derived_values([unordered], "EpnLabelStatusChanged", DECISION) == {"a11": SetValue(Decimal(0), None)}


def test_two_set_mappings_giving_one_indicator_two_values_are_refused() -> None:
    other = IndicatorMapping("EpnLabelStatusChanged", {}, "a11", "register_version", mode="set")
    with pytest.raises(ValueError, match="sets a11 to two values"):
        derived_values([LABELS, other], "EpnLabelStatusChanged", DECISION)


@pytest.mark.parametrize(
    ("order", "applied", "stale"),
    [
        (5, None, False),  # the first ordered value
        (5, 4, False),
        (5, 5, True),  # the same decision again (a replay), or another with the same number
        (4, 5, True),  # an older decision read late
        (None, 5, False),  # a mapping without an order
    ],
)
def test_a_value_is_stale_when_its_order_is_not_above_the_last_applied(
    order: int | None, applied: int | None, stale: bool
) -> None:
    assert is_stale(order, applied) is stale


def test_a_yearly_indicator_s_values_go_stale_per_year_any_other_s_per_indicator() -> None:
    assert orders_per_year("yearly")
    assert not orders_per_year("2021-2024")
    assert not orders_per_year("")


@pytest.mark.parametrize(
    ("year", "announced_on", "measured_on"),
    [
        (2026, date(2026, 3, 2), date(2026, 3, 2)),  # the year under way: the day announced
        (2025, date(2026, 3, 2), date(2025, 12, 31)),  # an earlier year: its last day
        (2021, date(2026, 1, 1), date(2021, 12, 31)),
        (2027, date(2026, 11, 30), date(2027, 1, 1)),  # a later year: its first day
        (2026, date(2026, 12, 31), date(2026, 12, 31)),
        (2026, date(2026, 1, 1), date(2026, 1, 1)),
    ],
)
def test_a_figure_about_a_year_is_dated_on_the_day_announced_if_in_that_year_else_on_the_year_s_nearest_day(
    year: int, announced_on: date, measured_on: date
) -> None:
    assert day_in_year(year, announced_on) == measured_on


@pytest.mark.parametrize(
    ("mapping", "reason"),
    [
        (dict(amount="count", mode="set"), "names the payload field holding the value"),
        (dict(amount="devices.tablet", mode="set"), "names the payload field holding the value"),
        (dict(amount="labelled_epns", mode="add", order="register_version"), "only a set mapping has an order"),
        (dict(amount="labelled_epns", mode="replace"), "mode must be one of add, set"),
    ],
)
def test_a_mapping_that_cannot_mean_anything_is_refused(mapping: dict[str, str], reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        IndicatorMapping("EpnLabelStatusChanged", {}, "a11", **mapping)  # type: ignore[arg-type]  # wrong on purpose


def test_an_indicator_is_either_added_to_or_set_never_both() -> None:
    check_mappings([*MAPPINGS, LABELS])
    counted = IndicatorMapping("EpnLabelled", {}, "a11", "count")
    with pytest.raises(ValueError, match="both added to and set by events: a11"):
        check_mappings([*MAPPINGS, LABELS, counted])


def test_a_retired_indicator_is_fed_by_no_mapping() -> None:
    check_mappings([*MAPPINGS, LABELS], retired={"a36"})
    with pytest.raises(ValueError, match="retired indicators still fed by a mapping: a46"):
        check_mappings([*MAPPINGS, LABELS], retired={"a36", "a46"})


def test_the_seeded_mapping_of_indicator_52_counts_tablets() -> None:
    seed = json.loads((Path(services.actions.__file__).parent / "seed" / "indicators.json").read_text("utf-8"))
    a52 = [m for m in seed["mappings"] if m["indicator"] == "a52-devices-retirement-homes"]

    assert [m["amount"] for m in a52] == ["devices.tablet"]
