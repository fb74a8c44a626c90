"""POST /deliveries: count-only deliveries of devices not tracked one by one (the walking
skeleton's endpoint, kept for the refurbishers who declare deliveries this way)."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from fastapi import APIRouter, Depends, Response
from passerelle_contracts.common import DeviceKind, DonorKind, Public, RecipientKind
from passerelle_contracts.equipment_v1 import DeviceCount, DevicesDelivered
from pydantic import BaseModel, Field

from services.runtime.http import idempotency_key, unit_of_work

from ..handlers.common import Uow
from ..handlers.delivery import DeclareDelivery, declare_delivery

router = APIRouter(tags=["deliveries"])


class DeliveryIn(BaseModel):
    recipient: str = Field(min_length=2, description="Recipient organisation code")
    recipient_kind: RecipientKind
    donor: str | None = None
    donor_kind: DonorKind | None = None
    devices: dict[DeviceKind, DeviceCount] = Field(min_length=1)
    public: Public | None = None
    beneficiaries: int | None = Field(default=None, ge=0, description="How many people benefit: a count, never names")
    commune: str | None = None
    delivered_on: date


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
