"""Use cases of the funding service: each runs in one unit of work (state and outbox together)."""

from .epns import (
    ChangeEpnDetails,
    DecideLabel,
    RegisterEpn,
    change_epn_details,
    decide_label,
    register_epn,
    set_criterion,
)
from .grants import AwardGrant, award_grant

__all__ = [
    "AwardGrant",
    "ChangeEpnDetails",
    "DecideLabel",
    "RegisterEpn",
    "award_grant",
    "change_epn_details",
    "decide_label",
    "register_epn",
    "set_criterion",
]
