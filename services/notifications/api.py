"""HTTP API of the notifications service: partners, their subscriptions, the delivery log."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from passerelle_contracts import Actor
from passerelle_contracts.common import Language
from pydantic import BaseModel, Field

from services.runtime.auth import require
from services.runtime.errors import NotFound

from . import repository
from .templates import RENDERERS

router = APIRouter(tags=["partners"])

EventType = Literal[tuple(RENDERERS)]  # type: ignore[valid-type]


class PartnerIn(BaseModel):
    name: str = Field(min_length=2)
    email: str = Field(pattern=r"^[^@\s]+@[^@\s]+$", description="The organisation's contact address")
    language: Language
    working_group: bool = False
    copil: bool = False
    active: bool = True


class PartnerOut(PartnerIn):
    code: str
    subscriptions: list[str]
    updated_at: datetime


class Subscriptions(BaseModel):
    event_types: list[EventType]  # type: ignore[valid-type]


@router.get("/partners", response_model=list[PartnerOut])
async def list_partners(request: Request) -> list[dict[str, Any]]:
    return [dict(r) for r in await repository.partners(request.app.state.runtime.pool)]


@router.get("/partners/{code}", response_model=PartnerOut)
async def get_partner(request: Request, code: str) -> dict[str, Any]:
    row = await repository.partner(request.app.state.runtime.pool, code)
    if row is None:
        raise NotFound(f"no partner {code}")
    return dict(row)


@router.put("/partners/{code}", response_model=PartnerOut, summary="Create or update a partner")
async def put_partner(
    request: Request, code: str, body: PartnerIn, actor: Actor = Depends(require("coordination"))
) -> dict[str, Any]:
    pool = request.app.state.runtime.pool
    await repository.upsert_partner(pool, {"code": code, **body.model_dump()})
    return dict(await repository.partner(pool, code))  # type: ignore[arg-type]


@router.put("/partners/{code}/subscriptions", response_model=PartnerOut, summary="Replace a partner's subscriptions")
async def put_subscriptions(
    request: Request, code: str, body: Subscriptions, actor: Actor = Depends(require("coordination"))
) -> dict[str, Any]:
    pool = request.app.state.runtime.pool
    async with pool.acquire() as conn, conn.transaction():
        if await repository.partner(conn, code) is None:
            raise NotFound(f"no partner {code}")
        await repository.set_subscriptions(conn, code, body.event_types)
    return dict(await repository.partner(pool, code))  # type: ignore[arg-type]


@router.get("/deliveries", tags=["deliveries"], summary="The e-mail delivery log, newest first")
async def list_deliveries(
    request: Request,
    partner: str | None = None,
    status: Literal["pending", "sent", "failed"] | None = None,
    limit: int = Query(100, ge=1, le=1000),
) -> list[dict[str, Any]]:
    rows = await repository.deliveries(request.app.state.runtime.pool, partner, status, limit)
    return [dict(r) for r in rows]
