from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

import services.actions
from services.actions.domain import (
    TRANSITIONS,
    ActionState,
    IndicatorMapping,
    InvalidTransition,
    authorise_update,
    change_status,
    derived_amounts,
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


def test_the_seeded_mapping_of_indicator_52_counts_tablets() -> None:
    seed = json.loads((Path(services.actions.__file__).parent / "seed" / "indicators.json").read_text("utf-8"))
    a52 = [m for m in seed["mappings"] if m["indicator"] == "a52-devices-retirement-homes"]

    assert [m["amount"] for m in a52] == ["devices.tablet"]
