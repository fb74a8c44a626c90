"""The EPN directory: the EPNs the funding service's register announced, and the partners that
reach them. The Coordination reads it to see which registered EPNs no partner reaches yet (no
active partner under the EPN's code or its operator's), before a reminder is sent to nobody."""

from __future__ import annotations

from typing import Any

from fastapi import Depends, Query
from passerelle_contracts import Actor
from passerelle_contracts.common import LabelStatus
from pydantic import BaseModel, Field

from services.runtime.auth import require
from services.runtime.http import api_router, repository

from ..domain import DirectoryEntry
from ..repository import NotificationsRepository

router = api_router(tags=["epns"])


class EpnOut(BaseModel):
    epn: str = Field(description="The EPN's organisation code in the funding service's register")
    name: str
    operator: str = Field(description="Code of the organisation that runs the EPN")
    commune: str | None
    label_status: LabelStatus
    contacts: list[str] = Field(
        description="The active partners e-mails addressed to the EPN reach: the EPN's own code, its operator's"
    )
    reminded: list[str] = Field(description="Of the contacts, those subscribed to ActivityReturnReminder")


@router.get(
    "/epns",
    response_model=list[EpnOut],
    summary="The EPNs the funding register announced and the partners that reach them (or none yet)",
)
async def list_epns(
    without_contact: bool = Query(False, description="Only the EPNs no active partner reaches yet"),
    actor: Actor = Depends(require("coordination")),
    repo: NotificationsRepository = Depends(repository),
) -> list[dict[str, Any]]:
    return [reply(entry) for entry in await repo.epn_directory(without_contact)]


def reply(entry: DirectoryEntry) -> dict[str, Any]:
    epn = entry.epn
    return {
        "epn": epn.code,
        "name": epn.name,
        "operator": epn.operator,
        "commune": epn.commune,
        "label_status": epn.label_status,
        "contacts": entry.contacts,
        "reminded": entry.reminded,
    }
