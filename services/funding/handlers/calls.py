"""Calls for projects and what follows: open a call, apply, review, decide within the envelope,
sign the agreement, amend it, claim, pay, reclaim, report, close; and the deadline checker.

Each use case runs in one unit of work: the register's rows and the events commit together. A
decision locks its call's row first, so two decisions on one call are taken one after the other
and the envelope is never overspent by a race; payments, amendments and closure lock the grant.
The deadline checker announces each reminder once: its record (``reminders``) is inserted in the
same transaction as the event, and a reminder already recorded is not announced again, whichever
replica or re-run finds it.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from passerelle_contracts import Actor, EventData
from passerelle_contracts.common import ApplicationDecision, BeneficiaryKind
from passerelle_contracts.funding_v1 import (
    ApplicationDecided,
    ApplicationReviewed,
    ApplicationSubmitted,
    CallClosingSoon,
    CallOpened,
    GrantAgreementSigned,
    GrantAmended,
    GrantClosed,
    GrantReportReviewed,
    GrantReportSubmitted,
    PaymentClaimChecked,
    PaymentClaimSubmitted,
    PaymentMade,
    ReclaimIssued,
    ReportingReminder,
)
from passerelle_contracts.funding_v1 import Duty as DutyOut
from passerelle_contracts.funding_v1 import Tranche as TrancheOut

from services.runtime.errors import Conflict, Forbidden, Invalid, NotFound
from services.runtime.inputs import BRUSSELS
from services.runtime.uow import UnitOfWork

from .. import events
from ..domain import Grant, GrantTerms, plain
from ..domain.calls import (
    Agreement,
    Application,
    Call,
    Duty,
    check_agreement,
    check_application,
    check_call,
    check_closure,
    check_decision,
    check_payment,
    check_reclaim,
    reminder_stage,
)
from ..repository import FundingRepository

Uow = UnitOfWork[FundingRepository]
COORDINATION_ROLES = ("coordination",)


def _is_coordination(actor: Actor) -> bool:
    return actor.role in COORDINATION_ROLES


def _call_subject(code: str) -> str:
    return f"call-{code}"


def _application_subject(application_id: uuid.UUID) -> str:
    return f"application-{application_id}"


# --- calls ----------------------------------------------------------------------------------------


async def open_call(uow: Uow, call: Call) -> tuple[Call, bool]:
    """Returns (the call, created). The same code again with the same terms answers the call (a
    retry); with other terms it is refused: a call's terms are what applicants relied on."""
    check_call(call)
    async with uow:
        stored = await uow.repo.add_call(dataclasses.replace(call, opened_by=uow.actor))
        if stored is None:
            existing = await uow.repo.call(call.call_code)
            assert existing is not None
            if not _same_terms(existing, call):
                raise Conflict(f"the call {call.call_code} exists already with other terms")
            return existing, False
        _announce_call(uow, stored)
        return stored, True


def _announce_call(uow: Uow, stored: Call) -> None:
    uow.emit(
        CallOpened(
            call_code=stored.call_code,
            management=stored.management,
            call_kind=stored.call_kind,
            funder=stored.funder,
            programme=stored.programme,
            title_fr=stored.title_fr,
            title_nl=stored.title_nl,
            opens_on=stored.opens_on,
            closes_at=stored.closes_at,
            budget_eur=stored.budget_eur,
            cofinancing_pct=stored.cofinancing_pct,
            cost_option=stored.cost_option,
            action_number=stored.action_number,
            public=stored.public,
            eligible_kinds=list(stored.eligible_kinds),
        ),
        subject=_call_subject(stored.call_code),
    )


def _same_terms(existing: Call, call: Call) -> bool:
    return dataclasses.replace(existing, opened_by=None, created_at=None) == dataclasses.replace(
        call, opened_by=None, created_at=None
    )


async def import_calls(
    uow: Uow,
    calls: list[tuple[int, Call]],
    errors: list[dict[str, Any]],
    progress: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Record a spreadsheet's calls together: new ones opened and announced, the same terms again
    unchanged, other terms for a code already there refused as that row's error (never a change:
    a call's terms are what applicants relied on). ``errors``: the rows refused while reading."""
    report: dict[str, Any] = {"created": 0, "unchanged": 0, "errors": list(errors)}
    async with uow:
        for line, call in calls:
            if progress is not None:
                progress(1)
            try:
                check_call(call)
            except Invalid as error:
                report["errors"].append({"line": line, "column": None, "reason": error.reason})
                continue
            existing = await uow.repo.call(call.call_code)
            if existing is not None:
                if _same_terms(existing, call):
                    report["unchanged"] += 1
                else:
                    reason = f"the call {call.call_code} exists already with other terms"
                    report["errors"].append({"line": line, "column": "call_code", "reason": reason})
                continue
            stored = await uow.repo.add_call(dataclasses.replace(call, opened_by=uow.actor))
            if stored is None:  # the same code twice in one file: the first row holds
                report["errors"].append(
                    {"line": line, "column": "call_code", "reason": f"{call.call_code} given twice"}
                )
                continue
            _announce_call(uow, stored)
            report["created"] += 1
    report["errors"].sort(key=lambda e: e["line"])
    return report


async def _call(uow: Uow, code: str, *, lock: bool = False) -> Call:
    call = await uow.repo.call(code, lock=lock)
    if call is None:
        raise NotFound(f"no call {code}")
    return call


# --- applications ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Apply:
    call_code: str
    applicant: str
    applicant_kind: BeneficiaryKind
    requested_eur: Decimal
    at: datetime  # the instant the register received it: the deadline is checked against it
    applied_at: datetime | None = None  # a tracked call: when the partner applied to the funder


async def apply(uow: Uow, command: Apply) -> tuple[Application, bool]:
    """Returns (the application, created). An organisation applies once per call: the same
    application again answers the first; another amount is refused (it was submitted)."""
    async with uow:
        if not _is_coordination(uow.actor) and uow.actor.organisation != command.applicant:
            raise Forbidden(f"{uow.actor.organisation} applies in its own name, not for {command.applicant}")
        call = await _call(uow, command.call_code)
        existing = await uow.repo.application_of(command.call_code, command.applicant)
        if existing is not None:
            if existing.requested_eur != command.requested_eur:
                raise Conflict(
                    f"{command.applicant} applied to {command.call_code} already (for {existing.requested_eur})"
                )
            return existing, False
        at = command.at
        if command.applied_at is not None:
            if call.management != "tracked" or not _is_coordination(uow.actor):
                raise Forbidden("only the Coordination records when a partner applied, and only to a tracked call")
            if command.applied_at > command.at:
                raise Invalid("applied_at is a moment that has passed")
            at = command.applied_at
        check_application(call, command.applicant_kind, at)
        application = Application(
            application_id=uuid.uuid4(),
            call_code=call.call_code,
            applicant=command.applicant,
            applicant_kind=command.applicant_kind,
            requested_eur=command.requested_eur,
            submitted_at=at,
            submitted_by=uow.actor,
        )
        stored = await uow.repo.add_application(application)
        if stored is None:  # the same organisation, at the same moment, from two requests
            raise Conflict(f"{command.applicant} applied to {command.call_code} already")
        uow.emit(
            ApplicationSubmitted(
                application_id=str(stored.application_id),
                call_code=stored.call_code,
                applicant=stored.applicant,
                applicant_kind=stored.applicant_kind,
                requested_eur=stored.requested_eur,
                submitted_at=stored.submitted_at,
            ),
            subject=_application_subject(stored.application_id),
        )
        return stored, True


async def _application(uow: Uow, application_id: uuid.UUID, *, lock: bool = False) -> Application:
    application = await uow.repo.application(application_id, lock=lock)
    if application is None:
        raise NotFound(f"no application {application_id}")
    return application


async def review(uow: Uow, application_id: uuid.UUID, score: int, comment: str | None) -> bool:
    """A reviewing organisation scores an application (again: its new score replaces its first)."""
    async with uow:
        application = await _application(uow, application_id)
        if application.status != "submitted":
            raise Conflict(f"application {application_id} was decided already ({application.status})")
        changed = await uow.repo.put_review(application_id, uow.actor.organisation, score, comment)
        if changed:
            uow.emit(
                ApplicationReviewed(
                    application_id=str(application_id),
                    call_code=application.call_code,
                    reviewer=uow.actor.organisation,
                    score=score,
                ),
                subject=_application_subject(application_id),
            )
        return changed


@dataclass(frozen=True)
class Decide:
    application_id: uuid.UUID
    decision: ApplicationDecision
    amount_eur: Decimal
    decided_on: date


async def decide(uow: Uow, command: Decide) -> tuple[Application, Grant | None]:
    """Decide an application; a grant (``GrantAwarded``, which the actions service counts for the
    call's action) when it is granted, in full or in part. On a run call the envelope holds."""
    async with uow:
        application = await _application(uow, command.application_id)
        call = await _call(uow, application.call_code, lock=True)  # decisions on one call, one at a time
        application = await _application(uow, command.application_id, lock=True)
        committed = await uow.repo.committed_on_call(call.call_code)
        remaining = check_decision(
            call, application, command.decision, command.amount_eur, committed, command.decided_on
        )
        grant: Grant | None = None
        if command.decision != "refused":
            terms = GrantTerms(
                call_code=call.call_code,
                call_kind=call.call_kind,
                beneficiary=application.applicant,
                beneficiary_kind=application.applicant_kind,
                amount_eur=command.amount_eur,
                awarded_on=command.decided_on,
                public=call.public,
            )
            grant = await uow.repo.add_grant(
                Grant(
                    grant_id=uuid.uuid4(), terms=terms, recorded_by=uow.actor, application_id=application.application_id
                )
            )
            uow.emit(events.grant_awarded(grant), subject=events.grant_subject(grant.grant_id))
        decided = await uow.repo.decide_application(
            application.application_id,
            command.decision,
            command.amount_eur,
            command.decided_on,
            grant.grant_id if grant is not None else None,
        )
        uow.emit(
            ApplicationDecided(
                application_id=str(application.application_id),
                call_code=call.call_code,
                applicant=application.applicant,
                decision=command.decision,
                amount_eur=command.amount_eur,
                decided_on=command.decided_on,
                grant_id=str(grant.grant_id) if grant is not None else None,
                remaining_eur=remaining,
            ),
            subject=_application_subject(application.application_id),
        )
        return decided, grant


# --- grants: agreement, amendments, claims, payments, reclaims, reports, closure ------------------


async def _grant(uow: Uow, grant_id: uuid.UUID, *, lock: bool = False) -> Grant:
    grant = await uow.repo.grant(grant_id, lock=lock)
    if grant is None:
        raise NotFound(f"no grant {grant_id}")
    return grant


async def _open_grant(uow: Uow, grant_id: uuid.UUID, done: str) -> Grant:
    """The grant, locked (its amendments, claims, payments and closure are decided one at a time),
    if its agreement is signed and it is not closed: only then is it amended, claimed on, paid or
    closed."""
    grant = await _grant(uow, grant_id, lock=True)
    if grant.status != "agreed":
        raise Conflict(f"grant {grant_id} is {grant.status}: only a signed, open agreement is {done}")
    return grant


def _may_act_for(actor: Actor, grant: Grant) -> None:
    if not _is_coordination(actor) and actor.organisation != grant.terms.beneficiary:
        raise NotFound(f"no grant {grant.grant_id}")  # another organisation's grant: as if there were none


def _emit(uow: Uow, grant: Grant, event: EventData) -> None:
    uow.emit(event, subject=events.grant_subject(grant.grant_id))


async def sign_agreement(uow: Uow, grant_id: uuid.UUID, agreement: Agreement) -> Grant:
    """The agreement of an awarded grant: tranches adding up to it, and the reports it asks."""
    async with uow:
        grant = await _grant(uow, grant_id, lock=True)
        if grant.status != "awarded":
            raise Conflict(f"grant {grant_id} is {grant.status}: its agreement was signed already")
        check_agreement(grant.terms.amount_eur, grant.terms.awarded_on, agreement)
        duties = [dataclasses.replace(d, grant_id=grant_id) for d in agreement.duties]
        await uow.repo.sign_agreement(
            grant_id, agreement.signed_on, agreement.ends_on, list(agreement.tranches), duties
        )
        _emit(
            uow,
            grant,
            GrantAgreementSigned(
                grant_id=str(grant_id),
                call_code=grant.terms.call_code,
                beneficiary=grant.terms.beneficiary,
                signed_on=agreement.signed_on,
                amount_eur=grant.terms.amount_eur,
                ends_on=agreement.ends_on,
                tranches=[
                    TrancheOut(number=t.number, amount_eur=t.amount_eur, due_on=t.due_on) for t in agreement.tranches
                ],
                duties=[DutyOut(duty_id=str(d.duty_id), kind=d.kind, due_on=d.due_on) for d in duties],
            ),
        )
        return await _grant(uow, grant_id)


@dataclass(frozen=True)
class Amend:
    grant_id: uuid.UUID
    kind: str  # extension | budget-revision
    amended_on: date
    ends_on: date | None = None  # an extension: the new end; the final report moves by as much
    amount_eur: Decimal | None = None  # a budget revision: the new amount; the last tranche absorbs it


async def amend(uow: Uow, command: Amend) -> Grant:
    async with uow:
        grant = await _open_grant(uow, command.grant_id, "amended")
        assert grant.ends_on is not None
        changes: list[tuple[str, Any, Any]] = []
        if command.kind == "extension":
            if command.ends_on is None or command.ends_on <= grant.ends_on:
                raise Invalid(f"an extension moves the end ({grant.ends_on}) later: give a later ends_on")
            shift = command.ends_on - grant.ends_on
            await uow.repo.update_grant(grant.grant_id, {"ends_on": command.ends_on})
            changes.append(("ends_on", grant.ends_on.isoformat(), command.ends_on.isoformat()))
            for duty in await uow.repo.duties(grant.grant_id):
                if duty.kind == "final" and duty.status in ("pending", "returned"):
                    moved = duty.due_on + shift
                    await uow.repo.update_duty(duty.duty_id, {"due_on": moved})
                    changes.append(("final_report_due_on", duty.due_on.isoformat(), moved.isoformat()))
        elif command.kind == "budget-revision":
            new = command.amount_eur
            if new is None or new == grant.terms.amount_eur:
                raise Invalid("a budget revision gives the new amount_eur, different from the current one")
            paid = await uow.repo.paid_total(grant.grant_id)
            if new < paid:
                raise Conflict(f"the new amount ({new}) is less than what was paid ({paid}): reclaim first")
            call = await uow.repo.call(grant.terms.call_code, lock=True)
            if call is not None and call.management == "run" and call.budget_eur is not None:
                committed = await uow.repo.committed_on_call(call.call_code)
                if committed - grant.terms.amount_eur + new > call.budget_eur:
                    left = call.budget_eur - committed
                    raise Conflict(
                        f"an increase of {new - grant.terms.amount_eur} is beyond the call's envelope ({left} left)"
                    )
            tranches = await uow.repo.tranches(grant.grant_id)
            last = tranches[-1]
            adjusted = last.amount_eur + (new - grant.terms.amount_eur)
            if adjusted <= 0:
                raise Conflict(
                    f"the last tranche ({last.amount_eur}) cannot absorb a cut of {grant.terms.amount_eur - new}"
                )
            await uow.repo.set_tranche_amount(grant.grant_id, last.number, adjusted)
            await uow.repo.update_grant(grant.grant_id, {"amount_eur": new})
            changes.append(("amount_eur", plain(grant.terms.amount_eur), plain(new)))
            changes.append((f"tranche_{last.number}_eur", plain(last.amount_eur), plain(adjusted)))
        else:
            raise Invalid(f"an amendment is an extension or a budget-revision, not {command.kind}")
        announced = events.field_changes(changes)
        await uow.repo.add_amendment(
            grant.grant_id, command.kind, command.amended_on, [c.model_dump(mode="json") for c in announced], uow.actor
        )
        _emit(
            uow,
            grant,
            GrantAmended(
                grant_id=str(grant.grant_id), kind=command.kind, amended_on=command.amended_on, changes=announced
            ),
        )
        return await _grant(uow, grant.grant_id)


async def submit_claim(uow: Uow, grant_id: uuid.UUID, claimed: Decimal, submitted_on: date) -> uuid.UUID:
    async with uow:
        grant = await _open_grant(uow, grant_id, "claimed on")
        _may_act_for(uow.actor, grant)
        claim_id = uuid.uuid4()
        await uow.repo.add_claim(claim_id, grant_id, claimed, submitted_on)
        _emit(
            uow,
            grant,
            PaymentClaimSubmitted(
                claim_id=str(claim_id),
                grant_id=str(grant_id),
                beneficiary=grant.terms.beneficiary,
                claimed_eur=claimed,
                submitted_on=submitted_on,
            ),
        )
        return claim_id


async def check_claim(uow: Uow, claim_id: uuid.UUID, accepted: Decimal, checked_on: date) -> dict[str, Any]:
    async with uow:
        claim = await uow.repo.claim(claim_id)
        if claim is None:
            raise NotFound(f"no claim {claim_id}")
        grant = await _grant(uow, claim["grant_id"], lock=True)
        claim = await uow.repo.claim(claim_id, lock=True)
        assert claim is not None
        if claim["status"] != "submitted":
            raise Conflict(f"claim {claim_id} was checked already")
        if accepted > claim["claimed_eur"]:
            raise Invalid(f"the accepted amount ({accepted}) is more than was claimed ({claim['claimed_eur']})")
        await uow.repo.update_claim(claim_id, "checked", accepted, checked_on)
        _emit(
            uow,
            grant,
            PaymentClaimChecked(
                claim_id=str(claim_id),
                grant_id=str(grant.grant_id),
                accepted_eur=accepted,
                refused_eur=claim["claimed_eur"] - accepted,
                checked_on=checked_on,
            ),
        )
        return await uow.repo.claim(claim_id) or {}


@dataclass(frozen=True)
class Pay:
    grant_id: uuid.UUID
    amount_eur: Decimal
    paid_on: date
    claim_id: uuid.UUID | None = None
    tranche: int | None = None


async def pay(uow: Uow, command: Pay) -> Decimal:
    """Record a payment (of a tranche, or of a checked claim's accepted amount); returns the total
    paid. A payment that would take the total beyond the grant is refused."""
    async with uow:
        grant = await _open_grant(uow, command.grant_id, "paid")
        if command.claim_id is not None:
            claim = await uow.repo.claim(command.claim_id, lock=True)
            if claim is None or claim["grant_id"] != grant.grant_id:
                raise NotFound(f"no claim {command.claim_id} on grant {grant.grant_id}")
            if claim["status"] != "checked":
                raise Conflict(f"claim {command.claim_id} is {claim['status']}: a claim is paid once, after its check")
            if command.amount_eur != claim["accepted_eur"]:
                raise Invalid(f"a claim is paid its accepted amount ({claim['accepted_eur']})")
            await uow.repo.update_claim(command.claim_id, "paid", None, None)
        if command.tranche is not None and command.tranche not in {
            t.number for t in await uow.repo.tranches(grant.grant_id)
        }:
            raise NotFound(f"grant {grant.grant_id} has no tranche {command.tranche}")
        paid = await uow.repo.paid_total(grant.grant_id)
        check_payment(command.amount_eur, paid, grant.terms.amount_eur)
        payment_id = uuid.uuid4()
        await uow.repo.add_payment(
            payment_id,
            grant.grant_id,
            command.amount_eur,
            command.paid_on,
            command.claim_id,
            command.tranche,
            uow.actor,
        )
        total = paid + command.amount_eur
        _emit(
            uow,
            grant,
            PaymentMade(
                payment_id=str(payment_id),
                grant_id=str(grant.grant_id),
                beneficiary=grant.terms.beneficiary,
                amount_eur=command.amount_eur,
                paid_on=command.paid_on,
                claim_id=str(command.claim_id) if command.claim_id else None,
                tranche=command.tranche,
                paid_total_eur=total,
            ),
        )
        return total


async def reclaim(uow: Uow, grant_id: uuid.UUID, amount: Decimal, reason: str, issued_on: date) -> Decimal:
    """Ask money back (an overpayment, ineligible costs, what was not spent); returns the total paid
    net of reclaims."""
    async with uow:
        grant = await _grant(uow, grant_id, lock=True)
        paid = await uow.repo.paid_total(grant_id)
        check_reclaim(amount, paid)
        reclaim_id = uuid.uuid4()
        await uow.repo.add_reclaim(reclaim_id, grant_id, amount, reason, issued_on, uow.actor)
        _emit(
            uow,
            grant,
            ReclaimIssued(
                reclaim_id=str(reclaim_id),
                grant_id=str(grant_id),
                beneficiary=grant.terms.beneficiary,
                amount_eur=amount,
                reason=reason,
                issued_on=issued_on,
            ),
        )
        return paid - amount


async def _duty(uow: Uow, duty_id: uuid.UUID) -> tuple[Duty, Grant]:
    duty = await uow.repo.duty(duty_id)
    if duty is None:
        raise NotFound(f"no report {duty_id}")
    grant = await _grant(uow, duty.grant_id, lock=True)
    locked = await uow.repo.duty(duty_id, lock=True)
    assert locked is not None
    return locked, grant


async def submit_report(uow: Uow, duty_id: uuid.UUID, submitted_on: date, participants: dict[str, Any] | None) -> Duty:
    """A beneficiary (or the Coordination for it) submits a report, with participants as counts."""
    async with uow:
        duty, grant = await _duty(uow, duty_id)
        _may_act_for(uow.actor, grant)
        if duty.status not in ("pending", "returned"):
            raise Conflict(f"report {duty_id} is {duty.status}")
        updated = await uow.repo.update_duty(
            duty_id, {"status": "submitted", "submitted_on": submitted_on, "participants": participants}
        )
        _emit(
            uow,
            grant,
            GrantReportSubmitted(
                duty_id=str(duty_id),
                grant_id=str(grant.grant_id),
                beneficiary=grant.terms.beneficiary,
                kind=duty.kind,
                submitted_on=submitted_on,
                participants=participants,
            ),
        )
        return updated


async def review_report(uow: Uow, duty_id: uuid.UUID, outcome: str, reviewed_on: date, note: str | None) -> Duty:
    """The Coordination approves a submitted report, or returns it to be completed (the note says why)."""
    async with uow:
        duty, grant = await _duty(uow, duty_id)
        if duty.status != "submitted":
            raise Conflict(f"report {duty_id} is {duty.status}: only a submitted report is reviewed")
        updated = await uow.repo.update_duty(
            duty_id,
            {"status": "approved" if outcome == "approved" else "returned", "reviewed_on": reviewed_on, "note": note},
        )
        _emit(
            uow,
            grant,
            GrantReportReviewed(
                duty_id=str(duty_id),
                grant_id=str(grant.grant_id),
                kind=duty.kind,
                outcome=outcome,
                reviewed_on=reviewed_on,
            ),
        )
        return updated


async def close_grant(uow: Uow, grant_id: uuid.UUID, closed_on: date) -> Grant:
    """Close a grant: only after its final report is approved."""
    async with uow:
        grant = await _open_grant(uow, grant_id, "closed")
        check_closure(await uow.repo.duties(grant_id))
        await uow.repo.update_grant(grant_id, {"status": "closed", "closed_on": closed_on})
        _emit(
            uow,
            grant,
            GrantClosed(
                grant_id=str(grant_id),
                beneficiary=grant.terms.beneficiary,
                closed_on=closed_on,
                amount_eur=grant.terms.amount_eur,
                paid_total_eur=await uow.repo.paid_total(grant_id),
            ),
        )
        return await _grant(uow, grant_id)


# --- the deadline checker -------------------------------------------------------------------------

HORIZON_DAYS = 14


async def check_deadlines(uow: Uow, today: date) -> list[EventData]:
    """Announce, once each, the reminders due on ``today`` (a Brussels day): reports of open grants
    (T-14, T-7, the due day, and overdue: the escalation) and calls closing (T-14, T-7, the day).
    Replay-safe: a reminder already recorded is skipped, so running it twice, or on two replicas,
    announces nothing twice."""
    announced: list[EventData] = []
    async with uow:
        for duty, beneficiary in await uow.repo.open_duties(today + timedelta(days=HORIZON_DAYS)):
            stage = reminder_stage(duty.due_on, today)
            if stage is None or not await uow.repo.record_reminder("duty", str(duty.duty_id), stage, duty.due_on):
                continue
            event: EventData = ReportingReminder(
                duty_id=str(duty.duty_id),
                grant_id=str(duty.grant_id),
                beneficiary=beneficiary,
                kind=duty.kind,
                due_on=duty.due_on,
                stage=stage,
            )
            uow.emit(event, subject=events.grant_subject(duty.grant_id))
            announced.append(event)
        for call in await uow.repo.calls_closing(today, HORIZON_DAYS):
            due = call.closes_at.astimezone(BRUSSELS).date()
            stage = reminder_stage(due, today)
            if (
                stage is None
                or stage == "overdue"
                or not await uow.repo.record_reminder("call", call.call_code, stage, due)
            ):
                continue
            event = CallClosingSoon(
                call_code=call.call_code, management=call.management, closes_at=call.closes_at, stage=stage
            )
            uow.emit(event, subject=_call_subject(call.call_code))
            announced.append(event)
    return announced
