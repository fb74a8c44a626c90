"""POST /epn-labels: an EPN received the regional label."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Response
from pydantic import BaseModel, Field

from services.runtime.http import api_router, unit_of_work
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


def reply(label: EpnLabel) -> dict[str, Any]:
    return {
        "epn": label.epn,
        "commune": label.commune,
        "labelled_on": label.labelled_on,
        "recorded_by": label.recorded_by.model_dump(mode="json"),
        "recorded_at": label.recorded_at,
    }
