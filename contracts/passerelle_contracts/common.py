"""The vocabulary Passerelle's contracts share, each code list defined once.

The event modules (``actions_v1``, ``equipment_v1``, ``funding_v1``), the envelope and the
services' HTTP APIs all take their codes from here; their French and Dutch labels are in
``i18n``. Adding a code to a list changes every event that carries it: strict readers reject
unknown values, so that is a new contract version (see ``schemas.breaking_changes``).

The tuples (``LANGUAGES``, ``ACTION_STATUSES`` …) are the same codes in their declared order,
for code that iterates or validates outside pydantic.
"""

from __future__ import annotations

from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict

# --- people and languages -----------------------------------------------------------------------

Language = Literal["fr", "nl"]
"""The languages partners read: French and Dutch, the Region's two official languages."""

Role = Literal["coordination", "owner", "partner", "donor", "refurbisher", "recipient", "operator", "system"]
"""The role an organisation acts in (``Actor.role``); "system" is Passerelle itself, never a key."""

Public = Literal[
    "job-seekers",
    "young-people",
    "seniors",
    "people-with-disabilities",
    "precarious",
    "women",
    "civil-servants",
    "teachers",
    "general-public",
    "first-line-actors",
]
"""The publics the plan's actions, deliveries and grants serve."""

# --- the plan's actions -------------------------------------------------------------------------

ActionStatus = Literal["not_started", "planned", "in_progress", "on_hold", "completed", "abandoned"]
TrafficLight = Literal["on_track", "at_risk", "off_track"]
ProgressMode = Literal["manual", "milestones"]
"""How an action's progress is set: by its owner, or derived from its milestones."""
ReportStatus = Literal["draft", "submitted", "approved", "returned"]
MeetingKind = Literal["working_group", "copil"]

# --- organisations and equipment ----------------------------------------------------------------

RecipientKind = Literal[
    "secondary-school",
    "homework-school",
    "pupils-association",
    "retirement-home",
    "epn",
    "first-line-actor",
    "cpas",
    "non-profit",
]
DonorKind = Literal["regional-administration", "regional-public-body", "other"]
OrganisationKind = Literal[
    "regional-administration",
    "regional-public-body",
    "refurbisher",
    "secondary-school",
    "homework-school",
    "pupils-association",
    "retirement-home",
    "epn",
    "first-line-actor",
    "cpas",
    "non-profit",
    "recycler",
    "other",
]
"""Every kind of organisation the equipment service knows: donors, refurbishers, recipients, recyclers."""

DeviceKind = Literal["laptop", "desktop", "tablet", "chromebook", "screen", "other"]
PhysicalState = Literal["received", "to_repair", "refurbished", "for_parts", "disposed"]
SanitisationState = Literal["pending", "wiped", "failed", "destroyed"]
Grade = Literal["A", "B", "C"]
"""A refurbished device's cosmetic grade."""
ReviewDecision = Literal["accepted", "partially_accepted", "refused"]
"""The review of a recipient's request for devices."""

# --- funding ------------------------------------------------------------------------------------

CallKind = Literal["regional-call", "esf", "epn-register", "other"]
BeneficiaryKind = Literal["epn", "non-profit", "public-body"]
FunderKind = Literal["region", "esf", "federal", "cocof", "vgc", "fwb", "commune", "foundation", "other"]
"""Who funds a line of the cadastre: the Region, the ESF (European Social Fund), the federal state,
the community commissions (COCOF, VGC), the Fédération Wallonie-Bruxelles, a commune, a foundation."""
LabelStatus = Literal["candidate", "labelled", "suspended", "withdrawn"]
"""An EPN's regional label: a candidate is labelled, a label may be suspended and given back, or
withdrawn; a withdrawn EPN may apply again (candidate)."""


# One changed field of an event's subject, with its old and new value (an event's ``changes``).
# No docstring: it would become the description of ``FieldChange`` in every committed schema.
class FieldChange(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    field: str
    old: str | int | float | bool | None
    new: str | int | float | bool | None


LANGUAGES: tuple[Language, ...] = get_args(Language)
ROLES: tuple[Role, ...] = get_args(Role)
ACTION_STATUSES: tuple[ActionStatus, ...] = get_args(ActionStatus)
TRAFFIC_LIGHTS: tuple[TrafficLight, ...] = get_args(TrafficLight)
RECIPIENT_KINDS: tuple[RecipientKind, ...] = get_args(RecipientKind)
DEVICE_KINDS: tuple[DeviceKind, ...] = get_args(DeviceKind)
LABEL_STATUSES: tuple[LabelStatus, ...] = get_args(LabelStatus)
FUNDER_KINDS: tuple[FunderKind, ...] = get_args(FunderKind)
