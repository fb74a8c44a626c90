"""Use cases of the funding service: each runs in one unit of work (state and outbox together)."""

from .cadastre import LinesReport, import_cadastre, read_cadastre, record_lines, refresh_coverage
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
    "LinesReport",
    "RegisterEpn",
    "award_grant",
    "change_epn_details",
    "decide_label",
    "import_cadastre",
    "read_cadastre",
    "record_lines",
    "refresh_coverage",
    "register_epn",
    "set_criterion",
]
