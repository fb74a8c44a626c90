"""POST /epn-labels: an EPN received the regional label."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Query, Response
from pydantic import BaseModel, Field

from services.runtime.errors import NotFound
from services.runtime.http import api_router, repository, unit_of_work
from services.runtime.inputs import Code, Happened, Line
from services.runtime.uow import UnitOfWork

from ..domain import EpnLabel
from ..handlers import LabelEpn, label_epn
from ..repository import FundingRepository

router = api_router(tags=["grants"])


class EpnLabelIn(BaseModel):
    epn: Annotated[Code, Field(min_length=2, description="The EPN's organisation code")]
    commune: Annotated[Line, Field(max_length=64)] | None = None
    labelled_on: Happened


@router.post("/epn-labels", status_code=201, summary="Record that an EPN received the regional label (once per EPN)")
async def post_epn_label(
    response: Response,
    body: EpnLabelIn,
    uow: UnitOfWork[FundingRepository] = Depends(unit_of_work("coordination")),
) -> dict[str, Any]:
    label, created = await label_epn(uow, LabelEpn(**body.model_dump()))
    if not created:
        response.status_code = 200  # already labelled: the first label stands
    return reply(label)


@router.get("/epn-labels", summary="The labelled EPNs, by code (a public register)")
async def get_epn_labels(
    commune: Annotated[Line, Query(max_length=64)] | None = None, repo: FundingRepository = Depends(repository)
) -> list[dict[str, Any]]:
    return [public(label) for label in await repo.epn_labels(commune=commune)]


@router.get("/epn-labels/{epn}", summary="One labelled EPN")
async def get_epn_label(epn: Code, repo: FundingRepository = Depends(repository)) -> dict[str, Any]:
    label = await repo.epn_label(epn)
    if label is None:
        raise NotFound(f"{epn} is not a labelled EPN")
    return public(label)


def public(label: EpnLabel) -> dict[str, Any]:
    """What anyone may read of a label: the EPN, its commune, the day (not who recorded it)."""
    return {"epn": label.epn, "commune": label.commune, "labelled_on": label.labelled_on}


def reply(label: EpnLabel) -> dict[str, Any]:
    return {
        "epn": label.epn,
        "commune": label.commune,
        "labelled_on": label.labelled_on,
        "recorded_by": label.recorded_by.model_dump(mode="json"),
        "recorded_at": label.recorded_at,
    }
