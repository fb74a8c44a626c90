"""Events published by the funding service (topic ``passerelle.funding.v1``).

The funding service owns the register of the EPNs (public digital spaces): the other services
learn which EPNs exist from ``EpnRegistered`` and ``EpnDetailsChanged``, and the number of
labelled EPNs from ``EpnLabelStatusChanged``. An EPN is an organisation and a public place: its
events carry its code, name, address and figures, never a person.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from pydantic import Field

from .common import BeneficiaryKind, CallKind, FieldChange, FunderKind, LabelStatus, Public
from .envelope import EventData

TOPIC = "passerelle.funding.v1"


class GrantAwarded(EventData):
    """A grant was awarded to an EPN or a non-profit, in a call for projects or the ESF."""

    event_type = "GrantAwarded"
    topic = TOPIC

    grant_id: str
    call_code: str = Field(description="The call for projects, e.g. 'AAP-SENIORS-2024'.")
    call_kind: CallKind
    beneficiary: str = Field(description="Beneficiary organisation code.")
    beneficiary_kind: BeneficiaryKind
    public: Public | None = None
    amount_eur: Decimal = Field(gt=0, max_digits=12, decimal_places=2)
    awarded_on: date


class EpnLabelled(EventData):
    """A public digital space (EPN) received the regional label.

    Still published each time an EPN becomes labelled, for the readers of this first contract;
    it says nothing of a label suspended or withdrawn: count labelled EPNs from
    ``EpnLabelStatusChanged.labelled_epns`` instead."""

    event_type = "EpnLabelled"
    topic = TOPIC

    epn: str = Field(description="The EPN's organisation code.")
    commune: str | None = None
    labelled_on: date


class EpnRegistered(EventData):
    """An EPN entered the register (the master list of EPNs), as a candidate for the label."""

    event_type = "EpnRegistered"
    topic = TOPIC

    epn: str = Field(description="The EPN's organisation code.")
    epn_name: str = Field(description="The EPN's public name (an organisation's, never a person's).")
    operator: str = Field(description="Code of the organisation that runs the EPN (a commune, a CPAS, a non-profit).")
    address: str | None = Field(default=None, description="The EPN's street address (a public place).")
    postcode: str | None = None
    commune: str
    hours_per_week: Decimal = Field(
        ge=0, le=168, max_digits=4, decimal_places=1, description="Opening hours a week, open to all."
    )
    computers: int = Field(ge=0, description="Computers for the public.")
    tablets: int = Field(ge=0, description="Tablets for the public.")
    publics: list[Public] = Field(default_factory=list, description="The publics it serves.")
    languages: list[str] = Field(default_factory=list, description="Languages it is served in (ISO 639-1).")
    accessible: bool = Field(description="Accessible to people with reduced mobility.")
    label_status: LabelStatus


class EpnDetailsChanged(EventData):
    """An EPN's details changed in the register: each changed field with its old and new value."""

    event_type = "EpnDetailsChanged"
    topic = TOPIC

    epn: str
    changes: list[FieldChange] = Field(min_length=1)


class EpnLabelStatusChanged(EventData):
    """The Coordination decided on an EPN's label: labelled, suspended, withdrawn, or a candidate again.

    ``labelled_epns`` is the number of labelled EPNs in the register right after this decision, and
    ``register_version`` numbers the register's label decisions (1, 2, 3 …). Events are keyed by
    EPN, so two EPNs' decisions may be read out of order: a reader that keeps the count keeps the
    one with the highest ``register_version``."""

    event_type = "EpnLabelStatusChanged"
    topic = TOPIC

    epn: str
    commune: str | None = None
    previous_status: LabelStatus
    status: LabelStatus
    decided_on: date
    criteria_unmet: list[str] = Field(
        default_factory=list, description="Codes of the label charter's criteria the EPN did not meet at this decision."
    )
    labelled_epns: int = Field(ge=0)
    register_version: int = Field(ge=1)


class FundingLineRecorded(EventData):
    """A line of the funding cadastre (action 36): who funds an EPN or a non-profit, in which
    programme and year, how much was committed and paid, and the share it co-finances.

    ``complete`` says whether the line has everything the cadastre asks (the amount paid and the
    co-financing share are often known late)."""

    event_type = "FundingLineRecorded"
    topic = TOPIC

    line_id: str
    beneficiary: str = Field(description="Code of the EPN or non-profit funded.")
    beneficiary_kind: BeneficiaryKind
    commune: str | None = None
    funder: FunderKind
    funder_name: str | None = Field(
        default=None, description="The commune or foundation, when the funder kind is not enough."
    )
    programme: str
    year: int = Field(ge=2000, le=2100)
    committed_eur: Decimal = Field(gt=0, max_digits=12, decimal_places=2)
    paid_eur: Decimal | None = Field(default=None, ge=0, max_digits=12, decimal_places=2)
    cofinancing_pct: Decimal | None = Field(default=None, ge=0, le=100, max_digits=5, decimal_places=2)
    complete: bool


class FundingLineChanged(EventData):
    """A line of the funding cadastre changed: each changed field with its old and new value."""

    event_type = "FundingLineChanged"
    topic = TOPIC

    line_id: str
    beneficiary: str
    year: int = Field(ge=2000, le=2100)
    changes: list[FieldChange] = Field(min_length=1)
    complete: bool


class CadastreCoverageChanged(EventData):
    """How many labelled EPNs have a complete line in the funding cadastre for a year (action 36).

    Announced when the figure changes: a line recorded or completed, an EPN labelled or its label
    withdrawn. ``coverage_version`` numbers these announcements across all years (1, 2, 3 …), so a
    reader keeps, for each year, the figure with the highest version. It replaces the first
    stand-in for action 36 (grants of the call kind ``epn-register``), which counted grants, not
    the cadastre."""

    event_type = "CadastreCoverageChanged"
    topic = TOPIC

    year: int = Field(ge=2000, le=2100)
    labelled_epns: int = Field(ge=0, description="EPNs labelled when the figure was taken.")
    complete_epns: int = Field(ge=0, description="Of those, the EPNs with at least one complete line for the year.")
    coverage_version: int = Field(ge=1)


EVENTS: tuple[type[EventData], ...] = (
    GrantAwarded,
    EpnLabelled,
    EpnRegistered,
    EpnDetailsChanged,
    EpnLabelStatusChanged,
    FundingLineRecorded,
    FundingLineChanged,
    CadastreCoverageChanged,
)
