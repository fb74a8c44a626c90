"""Calls for projects over HTTP: the calls (a public list: deadlines and eligibility are what
partners need to know in time), applications, reviews and decisions, and each grant's agreement,
amendments, claims, payments, reclaims, reports and closure; the deadline check."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import Depends, Header, Query, Request, Response
from passerelle_contracts import Actor
from passerelle_contracts.common import (
    AgeBand,
    ApplicationDecision,
    BeneficiaryKind,
    CallManagement,
    EducationLevel,
    EmploymentStatus,
    Gender,
)
from pydantic import AwareDatetime, BaseModel, Field, model_validator

from services.runtime.auth import require
from services.runtime.errors import NotFound
from services.runtime.http import api_router, repository, unit_of_work
from services.runtime.inputs import (
    Amount,
    Code,
    Count,
    Euros,
    Happened,
    Planned,
    Text,
    brussels_today,
)
from services.runtime.uow import UnitOfWork

from .. import calls_files, spreadsheets
from ..calls_files import CallCode, CallIn
from ..domain import reader_scope
from ..domain.calls import Agreement, Application, Call, Duty, Tranche
from ..handlers import calls as use
from ..handlers.deadlines import check_all_deadlines
from ..repository import FundingRepository
from . import grants

router = api_router(tags=["calls and grants"])
Uow = UnitOfWork[FundingRepository]
Limit = Annotated[int, Query(ge=1, le=500)]
Offset = Annotated[int, Query(ge=0, le=100_000)]
Score = Annotated[int, Field(ge=0, le=100)]
SMALL = 20  # tranches and duties an agreement may list
MAX_IMPORT_BYTES = 2 * 1024 * 1024  # a year's calls are a few dozen rows


class ApplicationIn(BaseModel):
    applicant: Annotated[Code, Field(min_length=2, description="Your organisation (the Coordination: any)")] | None = (
        None
    )
    applicant_kind: BeneficiaryKind
    requested_eur: Euros
    applied_at: AwareDatetime | None = Field(
        default=None,
        description="A tracked call only, the Coordination only: when the partner applied to the funder",
    )


class ReviewIn(BaseModel):
    score: Score
    comment: Text | None = None


class DecisionIn(BaseModel):
    decision: ApplicationDecision
    amount_eur: Amount
    decided_on: Happened


class TrancheIn(BaseModel):
    amount_eur: Euros
    due_on: Planned


class DutyIn(BaseModel):
    kind: Literal["interim", "final"]
    due_on: Planned


class AgreementIn(BaseModel):
    signed_on: Happened
    ends_on: Planned
    tranches: Annotated[list[TrancheIn], Field(min_length=1, max_length=SMALL)]
    duties: Annotated[list[DutyIn], Field(min_length=1, max_length=SMALL)]


class AmendmentIn(BaseModel):
    kind: Literal["extension", "budget-revision"]
    amended_on: Happened
    ends_on: Planned | None = None
    amount_eur: Euros | None = None


class ClaimIn(BaseModel):
    claimed_eur: Euros
    submitted_on: Happened


class CheckIn(BaseModel):
    accepted_eur: Amount
    checked_on: Happened


class PaymentIn(BaseModel):
    amount_eur: Euros
    paid_on: Happened
    claim_id: uuid.UUID | None = None
    tranche: Annotated[int, Field(ge=1, le=SMALL)] | None = None


class ReclaimIn(BaseModel):
    amount_eur: Euros
    reason: Literal["overpayment", "ineligible-costs", "unspent"]
    issued_on: Happened


class Participants(BaseModel):
    """People reached, as counts only (ESF+ common indicators)."""

    total: Count
    by_gender: Annotated[dict[Gender, Count], Field(max_length=4)] = {}
    by_age_band: Annotated[dict[AgeBand, Count], Field(max_length=5)] = {}
    by_employment: Annotated[dict[EmploymentStatus, Count], Field(max_length=5)] = {}
    by_education: Annotated[dict[EducationLevel, Count], Field(max_length=4)] = {}

    @model_validator(mode="after")
    def breakdowns_add_up(self) -> Participants:
        for name in ("by_gender", "by_age_band", "by_employment", "by_education"):
            counts: dict[str, int] = getattr(self, name)
            if counts and sum(counts.values()) != self.total:
                raise ValueError(f"{name} adds up to {sum(counts.values())}, not to the total {self.total}")
        return self


class ReportIn(BaseModel):
    submitted_on: Happened
    participants: Participants | None = None


class ReportReviewIn(BaseModel):
    outcome: Literal["approved", "returned"]
    reviewed_on: Happened
    note: Text | None = None


class CloseIn(BaseModel):
    closed_on: Happened


class DeadlineCheckIn(BaseModel):
    as_of: Happened | None = Field(default=None, description="The Brussels day to check as of (default: today)")


# --- calls ----------------------------------------------------------------------------------------


@router.post("/calls", status_code=201, summary="Open a call for projects (run) or record an outside call (tracked)")
async def post_call(
    response: Response, body: CallIn, uow: Uow = Depends(unit_of_work("coordination"))
) -> dict[str, Any]:
    call, created = await use.open_call(uow, body.call())
    if not created:
        response.status_code = 200
    return shown_call(call)


@router.get("/calls", summary="Calls, the nearest deadline first (public: deadlines and eligibility)")
async def get_calls(
    management: CallManagement | None = None,
    open_on: Annotated[Planned, Query(description="Only calls open that day")] | None = None,
    action_number: Annotated[int, Query(ge=1, le=66)] | None = None,
    limit: Limit = 100,
    offset: Offset = 0,
    repo: FundingRepository = Depends(repository),
) -> list[dict[str, Any]]:
    found = await repo.calls(
        management=management, open_on=open_on, action_number=action_number, limit=limit, offset=offset
    )
    return [shown_call(c) for c in found]


@router.get("/calls/export.csv", summary="Calls as CSV, in the import's format (public)")
async def get_calls_csv(
    management: CallManagement | None = None, repo: FundingRepository = Depends(repository)
) -> Response:
    return _calls_file(await repo.calls(management=management, limit=calls_files.MAX_ROWS), "csv")


@router.get("/calls/export.xlsx", summary="Calls as XLSX, in the import's format (public)")
async def get_calls_xlsx(
    management: CallManagement | None = None, repo: FundingRepository = Depends(repository)
) -> Response:
    return _calls_file(await repo.calls(management=management, limit=calls_files.MAX_ROWS), "xlsx")


def _calls_file(calls: list[Call], fmt: spreadsheets.Format) -> Response:
    return Response(
        calls_files.write(calls, fmt),
        media_type=spreadsheets.media_type(fmt),
        headers={"Content-Disposition": f'attachment; filename="calls.{fmt}"'},
    )


# Not /calls/import: GET /calls/{call_code} would serve that path too (a call coded "import").
@router.post(
    "/import/calls",
    summary="Import calls from a spreadsheet (CSV or XLSX); idempotent; a report per refused row",
    description=(
        f"Send the file as the body, with Content-Type text/csv (UTF-8, {calls_files.COLUMNS_NOTE}) or "
        f"{spreadsheets.XLSX_MEDIA} (the first sheet); at most {MAX_IMPORT_BYTES // 1024 // 1024} MiB. A call "
        "already there with the same terms is unchanged; with other terms its row is refused (a call's terms "
        "are what applicants relied on). Valid rows are recorded together."
    ),
    openapi_extra=spreadsheets.request_body(MAX_IMPORT_BYTES),
    max_body_size=MAX_IMPORT_BYTES,
)
async def post_calls_import(
    request: Request,
    content_type: Annotated[str, Header(max_length=200)] = "",
    uow: Uow = Depends(unit_of_work("coordination")),
) -> dict[str, Any]:
    calls, errors = calls_files.parse(await request.body(), spreadsheets.format_of(content_type))
    return await use.import_calls(uow, calls, errors)


@router.get("/calls/{call_code}", summary="One call (public)")
async def get_call(call_code: CallCode, repo: FundingRepository = Depends(repository)) -> dict[str, Any]:
    call = await repo.call(call_code)
    if call is None:
        raise NotFound(f"no call {call_code}")
    return shown_call(call)


# --- applications ---------------------------------------------------------------------------------


@router.post("/calls/{call_code}/applications", status_code=201, summary="Apply to a call, before its deadline")
async def post_application(
    call_code: CallCode, response: Response, body: ApplicationIn, uow: Uow = Depends(unit_of_work())
) -> dict[str, Any]:
    applicant = body.applicant or uow.actor.organisation
    command = use.Apply(
        call_code, applicant, body.applicant_kind, body.requested_eur, datetime.now(UTC), body.applied_at
    )
    application, created = await use.apply(uow, command)
    if not created:
        response.status_code = 200
    return shown_application(application)


@router.get("/applications", summary="Applications (an applicant's key: its own)")
async def get_applications(
    call_code: CallCode | None = None,
    applicant: Code | None = None,
    limit: Limit = 100,
    offset: Offset = 0,
    reader: Actor = Depends(require()),
    repo: FundingRepository = Depends(repository),
) -> list[dict[str, Any]]:
    scope = reader_scope(reader)
    if scope is not None and applicant not in (None, scope):
        return []
    found = await repo.applications(call_code=call_code, applicant=scope or applicant, limit=limit, offset=offset)
    return [shown_application(a) for a in found]


@router.get("/applications/{application_id}", summary="One application with its reviews (an applicant's key: its own)")
async def get_application(
    application_id: uuid.UUID, reader: Actor = Depends(require()), repo: FundingRepository = Depends(repository)
) -> dict[str, Any]:
    application = await repo.application(application_id)
    scope = reader_scope(reader)
    if application is None or scope not in (None, application.applicant):
        raise NotFound(f"no application {application_id}")
    reviews = await repo.reviews(application_id) if scope is None else []
    return shown_application(application) | {"reviews": reviews}


@router.post("/applications/{application_id}/reviews", summary="Score an application (0-100)")
async def post_review(
    application_id: uuid.UUID, body: ReviewIn, uow: Uow = Depends(unit_of_work("coordination"))
) -> dict[str, Any]:
    changed = await use.review(uow, application_id, body.score, body.comment)
    return {"application_id": str(application_id), "reviewer": uow.actor.organisation, "score": body.score,
            "changed": changed}  # fmt: skip


@router.post("/applications/{application_id}/decision", summary="Decide an application, within the call's envelope")
async def post_decision(
    application_id: uuid.UUID, body: DecisionIn, uow: Uow = Depends(unit_of_work("coordination"))
) -> dict[str, Any]:
    application, grant = await use.decide(
        uow, use.Decide(application_id, body.decision, body.amount_eur, body.decided_on)
    )
    return shown_application(application) | {"grant_id": str(grant.grant_id) if grant else None}


# --- a grant's life -------------------------------------------------------------------------------


@router.post("/grants/{grant_id}/agreement", status_code=201, summary="Sign a grant's agreement: tranches and reports")
async def post_agreement(
    grant_id: uuid.UUID, body: AgreementIn, uow: Uow = Depends(unit_of_work("coordination"))
) -> dict[str, Any]:
    agreement = Agreement(
        signed_on=body.signed_on,
        ends_on=body.ends_on,
        tranches=tuple(Tranche(n, t.amount_eur, t.due_on) for n, t in enumerate(body.tranches, start=1)),
        duties=tuple(Duty(uuid.uuid4(), grant_id, d.kind, d.due_on) for d in body.duties),
    )
    await use.sign_agreement(uow, grant_id, agreement)
    return await ledger(uow.repo, grant_id)


@router.post("/grants/{grant_id}/amendments", summary="Amend a grant: an extension or a budget revision")
async def post_amendment(
    grant_id: uuid.UUID, body: AmendmentIn, uow: Uow = Depends(unit_of_work("coordination"))
) -> dict[str, Any]:
    await use.amend(uow, use.Amend(grant_id, body.kind, body.amended_on, body.ends_on, body.amount_eur))
    return await ledger(uow.repo, grant_id)


@router.post(
    "/grants/{grant_id}/claims", status_code=201, summary="Claim a payment (the beneficiary, or the Coordination)"
)
async def post_claim(grant_id: uuid.UUID, body: ClaimIn, uow: Uow = Depends(unit_of_work())) -> dict[str, Any]:
    claim_id = await use.submit_claim(uow, grant_id, body.claimed_eur, body.submitted_on)
    return {"claim_id": str(claim_id), "grant_id": str(grant_id), "claimed_eur": str(body.claimed_eur),
            "status": "submitted"}  # fmt: skip


@router.post("/claims/{claim_id}/check", summary="Check a claim: what is accepted")
async def post_claim_check(
    claim_id: uuid.UUID, body: CheckIn, uow: Uow = Depends(unit_of_work("coordination"))
) -> dict[str, Any]:
    return _money(await use.check_claim(uow, claim_id, body.accepted_eur, body.checked_on))


@router.post("/grants/{grant_id}/payments", status_code=201, summary="Record a payment (never beyond the grant)")
async def post_payment(
    grant_id: uuid.UUID, body: PaymentIn, uow: Uow = Depends(unit_of_work("coordination"))
) -> dict[str, Any]:
    total = await use.pay(uow, use.Pay(grant_id, body.amount_eur, body.paid_on, body.claim_id, body.tranche))
    return {"grant_id": str(grant_id), "paid_total_eur": str(total)}


@router.post("/grants/{grant_id}/reclaims", status_code=201, summary="Ask money back from a beneficiary")
async def post_reclaim(
    grant_id: uuid.UUID, body: ReclaimIn, uow: Uow = Depends(unit_of_work("coordination"))
) -> dict[str, Any]:
    total = await use.reclaim(uow, grant_id, body.amount_eur, body.reason, body.issued_on)
    return {"grant_id": str(grant_id), "paid_total_eur": str(total)}


@router.post("/reports/{duty_id}", summary="Submit a report a grant asks (participants as counts only)")
async def post_report(duty_id: uuid.UUID, body: ReportIn, uow: Uow = Depends(unit_of_work())) -> dict[str, Any]:
    participants = body.participants.model_dump() if body.participants is not None else None
    return shown_duty(await use.submit_report(uow, duty_id, body.submitted_on, participants))


@router.post("/reports/{duty_id}/review", summary="Approve a report, or return it to be completed")
async def post_report_review(
    duty_id: uuid.UUID, body: ReportReviewIn, uow: Uow = Depends(unit_of_work("coordination"))
) -> dict[str, Any]:
    return shown_duty(await use.review_report(uow, duty_id, body.outcome, body.reviewed_on, body.note))


@router.post("/grants/{grant_id}/close", summary="Close a grant (only after its final report is approved)")
async def post_close(
    grant_id: uuid.UUID, body: CloseIn, uow: Uow = Depends(unit_of_work("coordination"))
) -> dict[str, Any]:
    await use.close_grant(uow, grant_id, body.closed_on)
    return await ledger(uow.repo, grant_id)


@router.get(
    "/grants/{grant_id}/ledger", summary="A grant's agreement, amendments, claims, payments, reclaims and reports"
)
async def get_ledger(
    grant_id: uuid.UUID, reader: Actor = Depends(require()), repo: FundingRepository = Depends(repository)
) -> dict[str, Any]:
    grant = await repo.grant(grant_id)
    scope = reader_scope(reader)
    if grant is None or scope not in (None, grant.terms.beneficiary):
        raise NotFound(f"no grant {grant_id}")
    return await ledger(repo, grant_id)


@router.post("/deadlines/check", summary="Announce the reminders due (each once); the service also does it hourly")
async def post_deadline_check(
    body: DeadlineCheckIn | None = None,
    uow: Uow = Depends(unit_of_work("coordination", "operator")),
) -> dict[str, Any]:
    as_of = (body.as_of if body is not None else None) or brussels_today()
    return {"as_of": as_of, "announced": await check_all_deadlines(uow, as_of)}


# --- replies --------------------------------------------------------------------------------------


async def ledger(repo: FundingRepository, grant_id: uuid.UUID) -> dict[str, Any]:
    grant = await repo.grant(grant_id)
    assert grant is not None
    return {
        **grants.reply(grant, full=False),
        "tranches": [
            {"number": t.number, "amount_eur": str(t.amount_eur), "due_on": t.due_on}
            for t in await repo.tranches(grant_id)
        ],
        "reports": [shown_duty(d) for d in await repo.duties(grant_id)],
        "amendments": await repo.amendments(grant_id),
        "claims": [_money(c) for c in await repo.claims(grant_id)],
        "payments": [_money(p) for p in await repo.payments(grant_id)],
        "reclaims": [_money(r) for r in await repo.reclaims(grant_id)],
        "paid_total_eur": str(await repo.paid_total(grant_id)),
    }


def _money(row: dict[str, Any]) -> dict[str, Any]:
    return {
        k: str(v) if isinstance(v, Decimal) else (str(v) if isinstance(v, uuid.UUID) else v) for k, v in row.items()
    }


def shown_call(call: Call) -> dict[str, Any]:
    return {
        "call_code": call.call_code,
        "management": call.management,
        "call_kind": call.call_kind,
        "funder": call.funder,
        "programme": call.programme,
        "title_fr": call.title_fr,
        "title_nl": call.title_nl,
        "opens_on": call.opens_on,
        "closes_at": call.closes_at,
        "budget_eur": None if call.budget_eur is None else str(call.budget_eur),
        "cofinancing_pct": None if call.cofinancing_pct is None else str(call.cofinancing_pct),
        "cost_option": call.cost_option,
        "action_number": call.action_number,
        "public": call.public,
        "eligible_kinds": list(call.eligible_kinds),
    }


def shown_application(a: Application) -> dict[str, Any]:
    return {
        "application_id": str(a.application_id),
        "call_code": a.call_code,
        "applicant": a.applicant,
        "applicant_kind": a.applicant_kind,
        "requested_eur": str(a.requested_eur),
        "submitted_at": a.submitted_at,
        "status": a.status,
        "amount_eur": None if a.amount_eur is None else str(a.amount_eur),
        "decided_on": a.decided_on,
        "grant_id": str(a.grant_id) if a.grant_id else None,
    }


def shown_duty(d: Duty) -> dict[str, Any]:
    return {
        "duty_id": str(d.duty_id),
        "grant_id": str(d.grant_id),
        "kind": d.kind,
        "due_on": d.due_on,
        "status": d.status,
        "submitted_on": d.submitted_on,
        "participants": d.participants,
        "reviewed_on": d.reviewed_on,
        "note": d.note,
    }
