"""POST /grants: a grant awarded to an EPN or a non-profit."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import Depends, Query, Response
from passerelle_contracts import Actor
from passerelle_contracts.common import BeneficiaryKind, CallKind, Public
from pydantic import BaseModel, Field

from services.runtime.auth import require
from services.runtime.errors import NotFound
from services.runtime.http import api_router, idempotency_key, repository, unit_of_work
from services.runtime.inputs import Code, Euros, Happened, Line, Year
from services.runtime.uow import UnitOfWork

from ..domain import Grant, GrantTerms, reader_scope
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


@router.get("/grants", summary="Grants, the latest award first (a beneficiary's key: its own)")
async def get_grants(
    beneficiary: Code | None = None,
    call_code: Annotated[Line, Query(max_length=64)] | None = None,
    year: Year | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
    reader: Actor = Depends(require()),
    repo: FundingRepository = Depends(repository),
) -> list[dict[str, Any]]:
    scope = reader_scope(reader)
    if scope is not None and beneficiary not in (None, scope):
        return []  # another organisation's grants: none to this key
    found = await repo.grants(
        beneficiary=scope or beneficiary, call_code=call_code, year=year, limit=limit, offset=offset
    )
    return [reply(g, full=scope is None) for g in found]


@router.get("/grants/{grant_id}", summary="One grant (a beneficiary's key: its own)")
async def get_grant(
    grant_id: uuid.UUID, reader: Actor = Depends(require()), repo: FundingRepository = Depends(repository)
) -> dict[str, Any]:
    grant = await repo.grant(grant_id)
    scope = reader_scope(reader)
    if grant is None or scope not in (None, grant.terms.beneficiary):
        raise NotFound(f"no grant {grant_id}")
    return reply(grant, full=scope is None)


def reply(grant: Grant, *, full: bool = True) -> dict[str, Any]:
    """The grant; ``full`` adds who recorded it and with which Idempotency-Key (the Coordination's
    and operators' view)."""
    t = grant.terms
    shown: dict[str, Any] = {
        "grant_id": str(grant.grant_id),
        "call_code": t.call_code,
        "call_kind": t.call_kind,
        "beneficiary": t.beneficiary,
        "beneficiary_kind": t.beneficiary_kind,
        "public": t.public,
        "amount_eur": str(t.amount_eur),
        "awarded_on": t.awarded_on,
        "recorded_at": grant.recorded_at,
        "application_id": str(grant.application_id) if grant.application_id else None,
        "status": grant.status,
        "signed_on": grant.signed_on,
        "ends_on": grant.ends_on,
        "closed_on": grant.closed_on,
    }
    if full:
        shown |= {"idempotency_key": grant.idempotency_key, "recorded_by": grant.recorded_by.model_dump(mode="json")}
    return shown
