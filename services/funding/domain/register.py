"""The EPN register: an EPN, its label's transitions and the label charter."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from passerelle_contracts import Actor
from passerelle_contracts.common import LabelStatus, Public

from services.runtime.errors import Conflict

# --- the EPN register ---------------------------------------------------------------------------

LABELLED: LabelStatus = "labelled"

TRANSITIONS: dict[LabelStatus, frozenset[LabelStatus]] = {
    "candidate": frozenset({"labelled", "withdrawn"}),  # withdrawn: the candidacy is dropped
    "labelled": frozenset({"suspended", "withdrawn"}),
    "suspended": frozenset({"labelled", "withdrawn"}),
    "withdrawn": frozenset({"candidate"}),  # an EPN may apply again
}

DETAIL_FIELDS = (
    "epn_name",
    "operator",
    "address",
    "postcode",
    "commune",
    "hours_per_week",
    "computers",
    "tablets",
    "publics",
    "languages",
    "accessible",
)
"""What the register keeps of an EPN besides its code and label, and what a change may touch."""


@dataclass(frozen=True)
class EpnDetails:
    """What the register knows of an EPN: a public place and the organisation that runs it."""

    epn_name: str
    operator: str
    commune: str | None
    hours_per_week: Decimal
    computers: int
    tablets: int
    accessible: bool
    address: str | None = None
    postcode: str | None = None
    publics: tuple[Public, ...] = ()
    languages: tuple[str, ...] = ()

    def values(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in DETAIL_FIELDS}


@dataclass(frozen=True)
class Epn:
    """An EPN in the register. ``labelled_on`` is the day of its latest labelling, if any."""

    epn: str
    details: EpnDetails
    label_status: LabelStatus
    registered_by: Actor
    labelled_on: date | None = None
    registered_at: datetime | None = None
    updated_at: datetime | None = None


@dataclass(frozen=True)
class Criterion:
    """One criterion of the label charter: ``measure`` of the EPN at least ``minimum``."""

    code: str
    measure: str
    minimum: Decimal
    label_fr: str
    label_nl: str


MEASURES = ("hours_per_week", "devices", "computers", "tablets", "accessible")


def measure(details: EpnDetails, name: str) -> Decimal:
    """An EPN's figure for a criterion: ``devices`` counts computers and tablets; ``accessible``
    is 1 or 0, so "accessible" is the criterion ``accessible >= 1``."""
    if name == "devices":
        return Decimal(details.computers + details.tablets)
    if name == "accessible":
        return Decimal(1 if details.accessible else 0)
    if name in ("hours_per_week", "computers", "tablets"):
        return Decimal(getattr(details, name))
    raise ValueError(f"unknown measure {name!r}")


@dataclass(frozen=True)
class CriterionResult:
    code: str
    measure: str
    minimum: Decimal
    value: Decimal

    @property
    def met(self) -> bool:
        return self.value >= self.minimum

    def as_record(self) -> dict[str, Any]:
        return {"code": self.code, "measure": self.measure, "minimum": plain(self.minimum), "value": plain(self.value),
                "met": self.met}  # fmt: skip


def plain(value: Decimal) -> str:
    """A decimal as people write it, whatever scale it was stored with: 24.0 -> "24", 12.50 -> "12.5"."""
    return format(value.normalize(), "f")


def check_charter(details: EpnDetails, criteria: list[Criterion]) -> list[CriterionResult]:
    return [CriterionResult(c.code, c.measure, c.minimum, measure(details, c.measure)) for c in criteria]


def decide(epn: Epn, status: LabelStatus, results: list[CriterionResult]) -> None:
    """Whether the Coordination may move ``epn``'s label to ``status``; raises ``Conflict`` why not."""
    current = epn.label_status
    if status == current:
        raise Conflict(f"{epn.epn} is already {current}")
    if status not in TRANSITIONS[current]:
        allowed = ", ".join(sorted(TRANSITIONS[current]))
        raise Conflict(f"{epn.epn} is {current}: its label can become {allowed}, not {status}")
    unmet = [r for r in results if not r.met]
    if status == LABELLED and unmet:
        reasons = "; ".join(
            f"{r.code}: {r.measure} is {plain(r.value)}, at least {plain(r.minimum)} needed" for r in unmet
        )
        raise Conflict(f"{epn.epn} does not meet the label charter: {reasons}")


def detail_changes(before: EpnDetails, after: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    """(field, old, new) for each detail ``after`` changes, in ``DETAIL_FIELDS`` order."""
    old = before.values()
    return [(name, old[name], after[name]) for name in DETAIL_FIELDS if name in after and after[name] != old[name]]


@dataclass(frozen=True)
class HistoryEntry:
    """One entry of an EPN's history: its registration, a change of details, or a label decision."""

    epn: str
    kind: str  # registered | details | label
    actor: Actor
    previous_status: LabelStatus | None = None
    status: LabelStatus | None = None
    decided_on: date | None = None
    criteria: tuple[dict[str, Any], ...] = ()
    changes: tuple[dict[str, Any], ...] = ()
    note: str | None = None
    register_version: int | None = None
    recorded_at: datetime | None = None


def may_edit_epn(actor: Actor, epn: Epn) -> bool:
    """The Coordination edits any EPN's details; the organisation that runs an EPN edits its own."""
    return actor.role == "coordination" or actor.organisation == epn.details.operator
