"""One vocabulary: each code list is defined once, in ``passerelle_contracts.common``, and the
names partners import from the event modules are that same definition."""

from __future__ import annotations

from typing import get_args

import passerelle_contracts
from passerelle_contracts import actions_v1, common, envelope, equipment_v1, labels

from services.runtime.cli import ROLES


def test_the_event_modules_re_export_the_common_types_instead_of_copying_them() -> None:
    assert actions_v1.FieldChange is common.FieldChange
    assert actions_v1.Public is common.Public
    assert actions_v1.ActionStatus is common.ActionStatus
    assert actions_v1.ReportStatus is common.ReportStatus
    assert actions_v1.MeetingKind is common.MeetingKind
    assert equipment_v1.DeviceKind is common.DeviceKind
    assert equipment_v1.RecipientKind is common.RecipientKind
    assert envelope.Role is passerelle_contracts.Role is common.Role
    assert labels.Language is common.Language


def test_the_key_roles_are_the_event_roles_but_passerelle_itself_and_the_finer_ones() -> None:
    event_roles = ("coordination", "owner", "partner", "donor", "refurbisher", "recipient", "operator")
    finer = ("caban", "epn-operator", "applicant", "reader")

    assert (*event_roles, *finer) == common.KEY_ROLES
    assert set(common.KEY_ROLES) - set(finer) | {"system"} == set(get_args(common.Role))
    assert get_args(common.KeyRole) == common.KEY_ROLES
    assert ROLES == common.KEY_ROLES, "the keys commands offer every key role"


def test_each_finer_key_role_acts_in_an_event_role_and_the_event_roles_do_not_grow() -> None:
    finer = set(common.KEY_ROLES) - set(common.ROLES)

    assert set(common.WIRE_ROLE) == finer, "every finer role, and only those, maps to an event role"
    assert set(common.WIRE_ROLE.values()) <= set(common.ROLES) - {"system"}
    assert common.ROLES == (
        "coordination",
        "owner",
        "partner",
        "donor",
        "refurbisher",
        "recipient",
        "operator",
        "system",
    )
    actor_roles = envelope.Actor.model_json_schema()["properties"]["role"]["enum"]
    assert actor_roles == list(common.ROLES), "an event's actor holds an event role, never a key role"


def test_the_code_tuples_follow_the_declared_order() -> None:
    assert common.LANGUAGES == ("fr", "nl")
    assert common.ACTION_STATUSES[0] == "not_started" and common.ACTION_STATUSES[-1] == "abandoned"
