"""Events published by the funding service (topic ``passerelle.funding.v1``).

The funding service owns the register of the EPNs (public digital spaces): the other services
learn which EPNs exist from ``EpnRegistered`` and ``EpnDetailsChanged``, and the number of
labelled EPNs from ``EpnLabelStatusChanged``. An EPN is an organisation and a public place: its
events carry its code, name, address and figures, never a person.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from .common import (
    AgeBand,
    ApplicationDecision,
    BeneficiaryKind,
    CallKind,
    CallManagement,
    CostOption,
    EducationLevel,
    EmploymentStatus,
    FieldChange,
    FunderKind,
    Gender,
    LabelStatus,
    Public,
    ReminderStage,
)
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


# --- calls for projects, applications, grants, payments and reports -----------------------------

DutyKind = Literal["interim", "final"]


class CallOpened(EventData):
    """A call for projects was opened in the register: one Passerelle's users run (a regional call,
    with an envelope), or an outside call (federal, ESF) they track so that partners are told in time."""

    event_type = "CallOpened"
    topic = TOPIC

    call_code: str
    management: CallManagement
    call_kind: CallKind
    funder: FunderKind
    programme: str
    title_fr: str
    title_nl: str
    opens_on: date
    closes_at: AwareDatetime = Field(description="The deadline; applications after it are refused.")
    budget_eur: Decimal | None = Field(
        default=None, gt=0, max_digits=12, decimal_places=2, description="The envelope (run calls)."
    )
    cofinancing_pct: Decimal | None = Field(default=None, ge=0, le=100, max_digits=5, decimal_places=2)
    cost_option: CostOption = "real-costs"
    action_number: int | None = Field(default=None, ge=1, le=66, description="The plan action the call serves.")
    public: Public | None = None
    eligible_kinds: list[BeneficiaryKind] = Field(default_factory=list, description="Who may apply (empty: anyone).")


class CallClosingSoon(EventData):
    """A call's deadline is near (14 and 7 days before, and on the day): announced once per stage."""

    event_type = "CallClosingSoon"
    topic = TOPIC

    call_code: str
    management: CallManagement
    closes_at: AwareDatetime
    stage: ReminderStage


class ApplicationSubmitted(EventData):
    """An organisation applied to a call before its deadline."""

    event_type = "ApplicationSubmitted"
    topic = TOPIC

    application_id: str
    call_code: str
    applicant: str = Field(description="The applying organisation's code.")
    applicant_kind: BeneficiaryKind
    requested_eur: Decimal = Field(gt=0, max_digits=12, decimal_places=2)
    submitted_at: AwareDatetime


class ApplicationReviewed(EventData):
    """A reviewing organisation scored an application."""

    event_type = "ApplicationReviewed"
    topic = TOPIC

    application_id: str
    call_code: str
    reviewer: str = Field(description="The reviewing organisation's code.")
    score: int = Field(ge=0, le=100)


class ApplicationDecided(EventData):
    """The decision on an application, within the call's envelope."""

    event_type = "ApplicationDecided"
    topic = TOPIC

    application_id: str
    call_code: str
    applicant: str
    decision: ApplicationDecision
    amount_eur: Decimal = Field(ge=0, max_digits=12, decimal_places=2, description="0 when refused.")
    decided_on: date
    grant_id: str | None = Field(default=None, description="The grant it became, when granted.")
    remaining_eur: Decimal | None = Field(
        default=None, max_digits=12, decimal_places=2, description="What is left of the envelope."
    )


class Tranche(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    number: int = Field(ge=1)
    amount_eur: Decimal = Field(gt=0, max_digits=12, decimal_places=2)
    due_on: date


class Duty(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    duty_id: str
    kind: DutyKind
    due_on: date


class GrantAgreementSigned(EventData):
    """A grant's agreement: its payment tranches and the reports it asks, with their due dates."""

    event_type = "GrantAgreementSigned"
    topic = TOPIC

    grant_id: str
    call_code: str
    beneficiary: str
    signed_on: date
    amount_eur: Decimal = Field(gt=0, max_digits=12, decimal_places=2)
    ends_on: date
    tranches: list[Tranche] = Field(min_length=1)
    duties: list[Duty] = Field(min_length=1)


class GrantAmended(EventData):
    """An amendment to a grant's agreement: an extension (end and due dates) or a budget revision."""

    event_type = "GrantAmended"
    topic = TOPIC

    grant_id: str
    kind: Literal["extension", "budget-revision"]
    amended_on: date
    changes: list[FieldChange] = Field(min_length=1)


class PaymentClaimSubmitted(EventData):
    """A beneficiary claimed a payment of its grant."""

    event_type = "PaymentClaimSubmitted"
    topic = TOPIC

    claim_id: str
    grant_id: str
    beneficiary: str
    claimed_eur: Decimal = Field(gt=0, max_digits=12, decimal_places=2)
    submitted_on: date


class PaymentClaimChecked(EventData):
    """The Coordination checked a claim: what it accepts (all, part or nothing)."""

    event_type = "PaymentClaimChecked"
    topic = TOPIC

    claim_id: str
    grant_id: str
    accepted_eur: Decimal = Field(ge=0, max_digits=12, decimal_places=2)
    refused_eur: Decimal = Field(ge=0, max_digits=12, decimal_places=2)
    checked_on: date


class PaymentMade(EventData):
    """A payment of a grant (a tranche, or an accepted claim)."""

    event_type = "PaymentMade"
    topic = TOPIC

    payment_id: str
    grant_id: str
    beneficiary: str
    amount_eur: Decimal = Field(gt=0, max_digits=12, decimal_places=2)
    paid_on: date
    claim_id: str | None = None
    tranche: int | None = Field(default=None, ge=1)
    paid_total_eur: Decimal = Field(
        ge=0, max_digits=12, decimal_places=2, description="Paid on the grant so far, net of reclaims."
    )


class ReclaimIssued(EventData):
    """Money is asked back from a beneficiary: paid beyond what its grant or report justifies."""

    event_type = "ReclaimIssued"
    topic = TOPIC

    reclaim_id: str
    grant_id: str
    beneficiary: str
    amount_eur: Decimal = Field(gt=0, max_digits=12, decimal_places=2)
    reason: Literal["overpayment", "ineligible-costs", "unspent"]
    issued_on: date


class ReportingReminder(EventData):
    """A report a grant asks is due soon, due today, or overdue (the escalation): once per stage.
    Its readers tell the grant holder and the Coordination."""

    event_type = "ReportingReminder"
    topic = TOPIC

    duty_id: str
    grant_id: str
    beneficiary: str
    kind: DutyKind
    due_on: date
    stage: ReminderStage


class ParticipantCounts(BaseModel):
    """People a grant reached, as counts only (ESF+ common indicators): never a person."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    total: int = Field(ge=0)
    by_gender: dict[Gender, int] = Field(default_factory=dict)
    by_age_band: dict[AgeBand, int] = Field(default_factory=dict)
    by_employment: dict[EmploymentStatus, int] = Field(default_factory=dict)
    by_education: dict[EducationLevel, int] = Field(default_factory=dict)


class GrantReportSubmitted(EventData):
    """A beneficiary submitted a report its grant asks, with the participants as counts."""

    event_type = "GrantReportSubmitted"
    topic = TOPIC

    duty_id: str
    grant_id: str
    beneficiary: str
    kind: DutyKind
    submitted_on: date
    participants: ParticipantCounts | None = None


class GrantReportReviewed(EventData):
    """The Coordination approved a grant report, or returned it to be completed (why stays in the register)."""

    event_type = "GrantReportReviewed"
    topic = TOPIC

    duty_id: str
    grant_id: str
    kind: DutyKind
    outcome: Literal["approved", "returned"]
    reviewed_on: date


class GrantClosed(EventData):
    """A grant was closed, its final report approved: what was paid in the end."""

    event_type = "GrantClosed"
    topic = TOPIC

    grant_id: str
    beneficiary: str
    closed_on: date
    amount_eur: Decimal = Field(max_digits=12, decimal_places=2)
    paid_total_eur: Decimal = Field(max_digits=12, decimal_places=2)


# --- EPN activity returns (action 28) ------------------------------------------------------------


class ActivityReturnSubmitted(EventData):
    """An EPN's quarterly activity return: visits, sessions and participants as counts, never people.
    ``revision`` is 1 for the first return of the quarter, then 2, 3 … for corrections, each
    carrying the whole return."""

    event_type = "ActivityReturnSubmitted"
    topic = TOPIC

    epn: str
    year: int = Field(ge=2000, le=2100)
    quarter: int = Field(ge=1, le=4)
    revision: int = Field(ge=1)
    visits: int = Field(ge=0)
    sessions: int = Field(ge=0)
    participants: int = Field(ge=0)
    by_public: dict[Public, int] = Field(default_factory=dict)
    by_age_band: dict[AgeBand, int] = Field(default_factory=dict)
    by_gender: dict[Gender, int] = Field(default_factory=dict)
    submitted_on: date


class ActivityReturnReminder(EventData):
    """A quarterly return is due soon, due today, or late (the chase): once per stage."""

    event_type = "ActivityReturnReminder"
    topic = TOPIC

    epn: str
    year: int = Field(ge=2000, le=2100)
    quarter: int = Field(ge=1, le=4)
    due_on: date
    stage: ReminderStage


EVENTS: tuple[type[EventData], ...] = (
    GrantAwarded,
    EpnLabelled,
    EpnRegistered,
    EpnDetailsChanged,
    EpnLabelStatusChanged,
    FundingLineRecorded,
    FundingLineChanged,
    CadastreCoverageChanged,
    CallOpened,
    CallClosingSoon,
    ApplicationSubmitted,
    ApplicationReviewed,
    ApplicationDecided,
    GrantAgreementSigned,
    GrantAmended,
    PaymentClaimSubmitted,
    PaymentClaimChecked,
    PaymentMade,
    ReclaimIssued,
    ReportingReminder,
    GrantReportSubmitted,
    GrantReportReviewed,
    GrantClosed,
    ActivityReturnSubmitted,
    ActivityReturnReminder,
)
