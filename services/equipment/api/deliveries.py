"""POST /deliveries: count-only deliveries of devices not tracked one by one (the walking
skeleton's endpoint, kept for the refurbishers who declare deliveries this way).

What the actions service counts for the plan's indicators (29, 30, 46, 47, 52, 57) comes from
here as much as from acknowledged handovers: the recipient must be registered and of the kind
declared, the donor registered (its kind is the registry's), the day one that has happened and
the counts plausible (``handlers.delivery.declare_delivery``)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import Depends, Response
from passerelle_contracts.common import DeviceKind, DonorKind, Public, RecipientKind
from passerelle_contracts.equipment_v1 import DevicesDelivered
from pydantic import BaseModel, Field

from services.runtime.http import api_router, idempotency_key, unit_of_work
from services.runtime.inputs import Code, Count, Happened, Line

from ..handlers.common import Uow
from ..handlers.delivery import DeclareDelivery, declare_delivery

router = api_router(tags=["deliveries"])

MAX_PER_KIND = 100_000  # devices of one kind in one delivery: a whole season is a few thousand
DeliveredCount = Annotated[int, Field(gt=0, le=MAX_PER_KIND)]


class DeliveryIn(BaseModel):
    recipient: Code = Field(description="Recipient organisation code (registered: PUT /organisations/{code})")
    recipient_kind: RecipientKind = Field(description="Must be the registered organisation's kind")
    donor: Code | None = Field(default=None, description="The donor organisation, if known (registered)")
    donor_kind: DonorKind | None = Field(
        default=None, description="Optional: the registered donor's kind is used; a contradiction is refused"
    )
    devices: dict[DeviceKind, DeliveredCount] = Field(min_length=1)
    public: Public | None = None
    beneficiaries: Count | None = Field(default=None, description="How many people benefit: a count, never names")
    commune: Annotated[Line, Field(min_length=1, max_length=100)] | None = None
    delivered_on: Happened


@router.post("/deliveries", status_code=201, summary="Record that devices were delivered to a recipient organisation")
async def post_delivery(
    response: Response,
    body: DeliveryIn,
    uow: Uow = Depends(unit_of_work("coordination", "refurbisher")),
    key: str | None = Depends(idempotency_key),
) -> dict[str, Any]:
    delivery = DevicesDelivered(
        delivery_id=str(uuid.uuid4()), total_devices=sum(body.devices.values()), **body.model_dump()
    )
    reply, created = await declare_delivery(uow, DeclareDelivery(delivery, body, key))
    if not created:
        response.status_code = 200  # a repetition: the first reply, nothing recorded again
    return dict(reply)
