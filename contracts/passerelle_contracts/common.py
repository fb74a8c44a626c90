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

KeyRole = Literal[
    "coordination",
    "owner",
    "partner",
    "donor",
    "refurbisher",
    "recipient",
    "operator",
    "caban",
    "epn-operator",
    "applicant",
    "reader",
]
"""The roles an API key can carry: the event roles (``Role``) but "system", and finer ones that
services check at their edge — ``caban`` (reads the funding cadastre), ``epn-operator`` (its own
EPN, returns and applications), ``applicant`` (a non-profit's own applications), ``reader``
(reads, writes nothing). Strict readers of events accept only ``Role``'s values, so a key of a
finer role acts in events as the role ``WIRE_ROLE`` names: adding a key role never changes an
event's schema."""

WIRE_ROLE: dict[str, Role] = {
    "caban": "partner",
    "epn-operator": "partner",
    "applicant": "partner",
    "reader": "partner",
}
"""The event role (``Actor.role``) a key of a finer role acts in; any other key acts in its own."""

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
"""A grant's call. ``epn-register`` was the walking skeleton's stand-in for action 36 and counts for
nothing any more (the cadastre does); it stays a valid code for the events that carry it."""
CallManagement = Literal["run", "tracked"]
"""A call Passerelle's users run (regional calls for projects), or an outside call (federal, ESF)
they track so that partners are told in time."""
CostOption = Literal["real-costs", "flat-rate", "unit-cost", "lump-sum"]
"""How a grant's costs are justified: real costs, or an ESF+ simplified cost option."""
ApplicationDecision = Literal["granted", "partially-granted", "refused"]
ReminderStage = Literal["t-14", "t-7", "due", "overdue"]
"""A deadline's reminders: 14 and 7 days before, on the day, and the escalation once it has passed."""
AgeBand = Literal["under-18", "18-29", "30-54", "55-64", "65-plus"]
"""Age bands of counts of people (ESF+ asks under 30 and over 54; the plan's seniors are 65 and over)."""
Gender = Literal["women", "men", "non-binary", "not-stated"]
EmploymentStatus = Literal["employed", "unemployed", "long-term-unemployed", "inactive", "not-stated"]
EducationLevel = Literal["isced-0-2", "isced-3-4", "isced-5-8", "not-stated"]
"""ISCED levels, as the ESF+ common indicators count participants."""
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
KEY_ROLES: tuple[KeyRole, ...] = get_args(KeyRole)
ACTION_STATUSES: tuple[ActionStatus, ...] = get_args(ActionStatus)
TRAFFIC_LIGHTS: tuple[TrafficLight, ...] = get_args(TrafficLight)
RECIPIENT_KINDS: tuple[RecipientKind, ...] = get_args(RecipientKind)
DEVICE_KINDS: tuple[DeviceKind, ...] = get_args(DeviceKind)
LABEL_STATUSES: tuple[LabelStatus, ...] = get_args(LabelStatus)
FUNDER_KINDS: tuple[FunderKind, ...] = get_args(FunderKind)
AGE_BANDS: tuple[AgeBand, ...] = get_args(AgeBand)
GENDERS: tuple[Gender, ...] = get_args(Gender)
EMPLOYMENT_STATUSES: tuple[EmploymentStatus, ...] = get_args(EmploymentStatus)
EDUCATION_LEVELS: tuple[EducationLevel, ...] = get_args(EducationLevel)
