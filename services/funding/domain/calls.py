"""Calls for projects and what follows a decision: applications, reviews, decisions within the
envelope, agreements with tranches and reporting duties, amendments, claims, payments, reclaims,
reports and closure. No I/O: the rules, each raising ``Conflict`` or ``Invalid`` with its reason.

Two kinds of calls are kept apart. A call Passerelle's users **run** (a regional call for
projects) has an envelope: its decisions are the Coordination's, and an award beyond what is left
of the envelope is refused. An outside call they **track** (federal, ESF) is the funder's: the
Coordination records the applications its partners made and the funder's decisions, to remind
them of deadlines and to count what the plan obtained; its envelope, if known, is a figure, not a
limit the register enforces.

Deadlines are Brussels time: a call closes at an instant (``closes_at``, with its offset), and a
report is due on a Brussels day. The reminders of a deadline are stages (``STAGES``): 14 and 7
days before, the day itself, and overdue (the escalation). ``reminder_stage`` says which stage a
day is in; the deadline checker announces each stage once (its record is the arbiter).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from passerelle_contracts import Actor
from passerelle_contracts.common import (
    ApplicationDecision,
    BeneficiaryKind,
    CallKind,
    CallManagement,
    CostOption,
    FunderKind,
    Public,
    ReminderStage,
)

from services.runtime.errors import Conflict, Invalid
from services.runtime.inputs import BRUSSELS

DutyKind = Literal["interim", "final"]
DutyStatus = Literal["pending", "submitted", "approved", "returned"]
STAGES: tuple[ReminderStage, ...] = ("t-14", "t-7", "due", "overdue")


@dataclass(frozen=True)
class Call:
    call_code: str
    management: CallManagement
    call_kind: CallKind
    funder: FunderKind
    programme: str
    title_fr: str
    title_nl: str
    opens_on: date
    closes_at: datetime
    budget_eur: Decimal | None = None
    cofinancing_pct: Decimal | None = None
    cost_option: CostOption = "real-costs"
    action_number: int | None = None
    public: Public | None = None
    eligible_kinds: tuple[BeneficiaryKind, ...] = ()
    opened_by: Actor | None = None
    created_at: datetime | None = None


def check_call(call: Call) -> None:
    """A run call has an envelope; a call closes after it opens."""
    if call.management == "run" and call.budget_eur is None:
        raise Invalid("a call Passerelle runs needs its envelope (budget_eur)")
    if call.closes_at.date() < call.opens_on:
        raise Invalid(f"the call closes ({call.closes_at.date()}) before it opens ({call.opens_on})")


@dataclass(frozen=True)
class Application:
    application_id: uuid.UUID
    call_code: str
    applicant: str
    applicant_kind: BeneficiaryKind
    requested_eur: Decimal
    submitted_at: datetime
    status: Literal["submitted", "granted", "partially-granted", "refused"] = "submitted"
    amount_eur: Decimal | None = None
    decided_on: date | None = None
    grant_id: uuid.UUID | None = None
    submitted_by: Actor | None = None


def check_application(call: Call, applicant_kind: BeneficiaryKind, at: datetime) -> None:
    """Accepted from the call's opening day to its deadline, from an eligible kind of organisation.
    ``at`` is when the register received it, or, for a tracked call, when the partner applied to
    the funder (the Coordination records it afterwards): the deadline holds either way."""
    if at > call.closes_at:
        raise Conflict(
            f"the call {call.call_code} closed at {call.closes_at.isoformat()} (Brussels time): "
            f"an application at {at.isoformat()} is late and refused"
        )
    if at.date() < call.opens_on:
        raise Conflict(f"the call {call.call_code} opens on {call.opens_on}: applications are not open yet")
    if call.eligible_kinds and applicant_kind not in call.eligible_kinds:
        raise Conflict(
            f"the call {call.call_code} is open to {', '.join(call.eligible_kinds)}, not to a {applicant_kind}"
        )


def check_decision(
    call: Call,
    application: Application,
    decision: ApplicationDecision,
    amount: Decimal,
    committed: Decimal,
    decided_on: date | None = None,
) -> Decimal | None:
    """Whether the decision stands; returns what is left of the envelope after it (None: no envelope).

    A granted application gets the amount it asked for (or less: that is a partial grant), a partial
    grant less than it asked, a refusal nothing. On a run call, awards add up within the envelope
    (``committed``: what earlier decisions awarded)."""
    if application.status != "submitted":
        raise Conflict(f"application {application.application_id} was decided already ({application.status})")
    requested = application.requested_eur
    submitted_on = application.submitted_at.astimezone(BRUSSELS).date()
    if decided_on is not None and decided_on < submitted_on:
        raise Invalid(f"decided on {decided_on}, before the application was submitted ({submitted_on})")
    if decision == "refused" and amount != 0:
        raise Invalid("a refusal awards nothing: amount_eur must be 0")
    if decision == "granted" and amount != requested:
        raise Invalid(f"a grant awards what was asked ({requested}); award less as partially-granted")
    if decision == "partially-granted" and not 0 < amount < requested:
        raise Invalid(f"a partial grant awards more than 0 and less than the {requested} asked")
    if call.budget_eur is None:
        return None
    remaining = call.budget_eur - committed
    if call.management == "run" and amount > remaining:
        raise Conflict(
            f"an award of {amount} is beyond what is left of the call's envelope ({remaining} of {call.budget_eur})"
        )
    return remaining - amount


@dataclass(frozen=True)
class Tranche:
    number: int
    amount_eur: Decimal
    due_on: date


@dataclass(frozen=True)
class Duty:
    duty_id: uuid.UUID
    grant_id: uuid.UUID
    kind: DutyKind
    due_on: date
    status: DutyStatus = "pending"
    submitted_on: date | None = None
    participants: dict[str, Any] | None = None
    reviewed_on: date | None = None
    note: str | None = None


@dataclass(frozen=True)
class Agreement:
    signed_on: date
    ends_on: date
    tranches: tuple[Tranche, ...]
    duties: tuple[Duty, ...] = field(default_factory=tuple)


def check_agreement(amount: Decimal, awarded_on: date, agreement: Agreement) -> None:
    """Tranches add up to the grant; one final report, due last and not before the grant ends."""
    total = sum((t.amount_eur for t in agreement.tranches), Decimal(0))
    if total != amount:
        raise Invalid(f"the tranches add up to {total}, not to the grant's {amount}")
    if agreement.signed_on < awarded_on:
        raise Invalid(f"signed on {agreement.signed_on}, before the award ({awarded_on})")
    if agreement.ends_on < agreement.signed_on:
        raise Invalid("the agreement ends before it is signed")
    finals = [d for d in agreement.duties if d.kind == "final"]
    if len(finals) != 1:
        raise Invalid(f"an agreement asks exactly one final report, not {len(finals)}")
    final = finals[0]
    if final.due_on < agreement.ends_on:
        raise Invalid(f"the final report is due ({final.due_on}) before the grant ends ({agreement.ends_on})")
    if any(d.due_on > final.due_on for d in agreement.duties if d.kind == "interim"):
        raise Invalid("an interim report is due after the final one")


def reminder_stage(due_on: date, today: date) -> ReminderStage | None:
    """The stage a deadline is in on ``today``: t-14 from 14 days before, t-7 from 7 days before, due
    on the day, overdue after; None before t-14. A checker that did not run for days announces the
    stage of today, not the ones it missed (a late "in 14 days" would mislead)."""
    days = (due_on - today).days
    if days < 0:
        return "overdue"
    if days == 0:
        return "due"
    if days <= 7:
        return "t-7"
    if days <= 14:
        return "t-14"
    return None


def check_payment(amount: Decimal, paid_total: Decimal, grant_amount: Decimal) -> None:
    """A payment never takes what was paid beyond the grant: an overpayment found later is reclaimed."""
    if paid_total + amount > grant_amount:
        raise Conflict(
            f"paying {amount} would bring the payments to {paid_total + amount}, beyond the grant's {grant_amount}"
        )


def check_reclaim(amount: Decimal, paid_total: Decimal) -> None:
    if amount > paid_total:
        raise Conflict(f"a reclaim of {amount} is more than was paid ({paid_total})")


def check_closure(duties: list[Duty]) -> None:
    """A grant closes only once its final report is approved (and no report is still open)."""
    final = [d for d in duties if d.kind == "final"]
    if not final or final[0].status != "approved":
        raise Conflict("a grant closes only after its final report is approved")
    open_ones = [d for d in duties if d.status != "approved"]
    if open_ones:
        raise Conflict(f"{len(open_ones)} report(s) of this grant are not approved yet")
