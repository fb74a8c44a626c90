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


def test_api_keys_carry_every_role_of_the_contracts_except_passerelle_itself() -> None:
    assert ROLES == ("coordination", "owner", "partner", "donor", "refurbisher", "recipient", "operator")
    assert set(ROLES) | {"system"} == set(get_args(common.Role))


def test_the_code_tuples_follow_the_declared_order() -> None:
    assert common.LANGUAGES == ("fr", "nl")
    assert common.ACTION_STATUSES[0] == "not_started" and common.ACTION_STATUSES[-1] == "abandoned"
