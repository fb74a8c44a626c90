"""HTTP API of the funding service (walking skeleton: grants)."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Depends, Header, Request, Response
from passerelle_contracts import Actor
from passerelle_contracts.common import BeneficiaryKind, CallKind, Public
from passerelle_contracts.funding_v1 import TOPIC, EpnLabelled, GrantAwarded
from pydantic import BaseModel, Field

from services.runtime.auth import require
from services.runtime.http import correlation_id

from .handlers import award_grant, label_epn

router = APIRouter(tags=["grants"])


class GrantIn(BaseModel):
    call_code: str = Field(min_length=2)
    call_kind: CallKind
    beneficiary: str = Field(min_length=2, description="Beneficiary organisation code")
    beneficiary_kind: BeneficiaryKind
    public: Public | None = None
    amount_eur: Decimal = Field(gt=0, max_digits=12, decimal_places=2)
    awarded_on: date


@router.post("/grants", status_code=201, summary="Record that a grant was awarded")
async def post_grant(
    request: Request,
    response: Response,
    body: GrantIn,
    actor: Actor = Depends(require("coordination")),
    correlation: uuid.UUID = Depends(correlation_id),
    idempotency_key: str | None = Header(default=None, max_length=200),
) -> dict[str, Any]:
    runtime = request.app.state.runtime
    grant = GrantAwarded(grant_id=str(uuid.uuid4()), **body.model_dump())
    row, created = await award_grant(runtime.pool, runtime.topic(TOPIC), grant, actor, correlation, idempotency_key)
    if not created:
        response.status_code = 200
    return {**row, "grant_id": str(row["grant_id"]), "amount_eur": str(row["amount_eur"])}


class EpnLabelIn(BaseModel):
    epn: str = Field(min_length=2, description="The EPN's organisation code")
    commune: str | None = None
    labelled_on: date


@router.post("/epn-labels", status_code=201, summary="Record that an EPN received the regional label (once per EPN)")
async def post_epn_label(
    request: Request,
    response: Response,
    body: EpnLabelIn,
    actor: Actor = Depends(require("coordination")),
    correlation: uuid.UUID = Depends(correlation_id),
) -> dict[str, Any]:
    runtime = request.app.state.runtime
    row, created = await label_epn(runtime.pool, runtime.topic(TOPIC), EpnLabelled(**body.model_dump()), actor, correlation)
    if not created:
        response.status_code = 200
    return row
