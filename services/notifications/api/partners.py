"""Partners and their subscriptions."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import Depends, Path
from passerelle_contracts import Actor
from passerelle_contracts.common import Language
from pydantic import BaseModel, Field

from services.runtime.auth import require
from services.runtime.errors import NotFound
from services.runtime.http import api_router, repository, unit_of_work
from services.runtime.inputs import Code, Flag, Line
from services.runtime.uow import UnitOfWork

from ..domain import ORG_ROLES, OrgRole, Partner, PartnerDetails
from ..handlers import ReplaceSubscriptions, replace_subscriptions, save_partner
from ..rendering import SUBSCRIBABLE
from ..repository import NotificationsRepository
from .contacts import Email

router = api_router(tags=["partners"])
PartnerCode = Annotated[Code, Path(description="The partner's organisation code")]

EventType = Literal[SUBSCRIBABLE]  # type: ignore[valid-type]  # the subscribable types, known when the module loads


class PartnerIn(BaseModel):
    name: Annotated[Line, Field(min_length=2)]
    email: Email = Field(description="The organisation's functional address (its mailbox contact)")
    language: Language
    roles: list[OrgRole] = Field(default=[], max_length=len(ORG_ROLES), description="Its roles in the plan")
    working_group: Flag = Field(default=False, description="Same as the role working_group (kept for older clients)")
    copil: Flag = Field(default=False, description="Same as the role copil (kept for older clients)")
    active: Flag = True

    def details(self, code: str) -> PartnerDetails:
        roles: set[OrgRole] = set(self.roles)
        if self.working_group:
            roles.add("working_group")
        if self.copil:
            roles.add("copil")
        return PartnerDetails(
            code=code, name=self.name, email=self.email, language=self.language, roles=frozenset(roles),
            active=self.active,
        )  # fmt: skip


class PartnerOut(PartnerIn):
    code: str
    subscriptions: list[str] = Field(description="What its mailbox follows, unfiltered (contacts: /contacts/{id})")
    updated_at: datetime


class Subscriptions(BaseModel):
    event_types: list[EventType] = Field(max_length=len(SUBSCRIBABLE))


# Partners' contact addresses are personal data of a sort (a person reads that mailbox): only
# the Coordination, which keeps this register, reads it.
Reader = Depends(require("coordination"))


@router.get(
    "/partners", response_model=list[PartnerOut], summary="The partners, their contact address and subscriptions"
)
async def list_partners(
    actor: Actor = Reader, repo: NotificationsRepository = Depends(repository)
) -> list[dict[str, Any]]:
    return [reply(p) for p in await repo.partners()]


@router.get("/partners/{code}", response_model=PartnerOut, summary="One partner")
async def get_partner(
    code: PartnerCode, actor: Actor = Reader, repo: NotificationsRepository = Depends(repository)
) -> dict[str, Any]:
    partner = await repo.partner(code)
    if partner is None:
        raise NotFound(f"no partner {code}")
    return reply(partner)


@router.put("/partners/{code}", response_model=PartnerOut, summary="Create or update a partner")
async def put_partner(
    code: PartnerCode, body: PartnerIn, uow: UnitOfWork[NotificationsRepository] = Depends(unit_of_work("coordination"))
) -> dict[str, Any]:
    return reply(await save_partner(uow, body.details(code)))


@router.put("/partners/{code}/subscriptions", response_model=PartnerOut, summary="Replace a partner's subscriptions")
async def put_subscriptions(
    code: PartnerCode,
    body: Subscriptions,
    uow: UnitOfWork[NotificationsRepository] = Depends(unit_of_work("coordination")),
) -> dict[str, Any]:
    return reply(
        await replace_subscriptions(uow, ReplaceSubscriptions(partner=code, event_types=list(body.event_types)))
    )


def reply(partner: Partner) -> dict[str, Any]:
    d = partner.details
    return {
        "code": d.code,
        "name": d.name,
        "email": d.email,
        "language": d.language,
        "roles": sorted(d.roles),
        "working_group": "working_group" in d.roles,
        "copil": "copil" in d.roles,
        "active": d.active,
        "subscriptions": partner.subscriptions,
        "updated_at": partner.updated_at,
    }
