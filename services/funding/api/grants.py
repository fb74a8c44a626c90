"""POST /grants: a grant awarded to an EPN or a non-profit."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Response
from passerelle_contracts.common import BeneficiaryKind, CallKind, Public
from pydantic import BaseModel, Field

from services.runtime.http import api_router, idempotency_key, unit_of_work
from services.runtime.inputs import Code, Euros, Happened, Line
from services.runtime.uow import UnitOfWork

from ..domain import Grant, GrantTerms
from ..handlers import AwardGrant, award_grant
from ..repository import FundingRepository

router = api_router(tags=["grants"])


class GrantIn(BaseModel):
    call_code: Annotated[Line, Field(min_length=2, max_length=64)]
    call_kind: CallKind
    beneficiary: Annotated[Code, Field(min_length=2, description="Beneficiary organisation code")]
    beneficiary_kind: BeneficiaryKind
    public: Public | None = None
    amount_eur: Euros
    awarded_on: Happened


@router.post("/grants", status_code=201, summary="Record that a grant was awarded")
async def post_grant(
    response: Response,
    body: GrantIn,
    uow: UnitOfWork[FundingRepository] = Depends(unit_of_work("coordination")),
    key: str | None = Depends(idempotency_key),
) -> dict[str, Any]:
    grant, created = await award_grant(uow, AwardGrant(GrantTerms(**body.model_dump()), idempotency_key=key))
    if not created:
        response.status_code = 200  # a repetition: the first grant, nothing recorded again
    return reply(grant)


def reply(grant: Grant) -> dict[str, Any]:
    t = grant.terms
    return {
        "grant_id": str(grant.grant_id),
        "idempotency_key": grant.idempotency_key,
        "call_code": t.call_code,
        "call_kind": t.call_kind,
        "beneficiary": t.beneficiary,
        "beneficiary_kind": t.beneficiary_kind,
        "public": t.public,
        "amount_eur": str(t.amount_eur),
        "awarded_on": t.awarded_on,
        "recorded_by": grant.recorded_by.model_dump(mode="json"),
        "recorded_at": grant.recorded_at,
    }
