"""HTTP API of the equipment service (walking skeleton: deliveries)."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from fastapi import APIRouter, Depends, Header, Request, Response
from passerelle_contracts import Actor
from passerelle_contracts.common import DeviceKind, DonorKind, Public, RecipientKind
from passerelle_contracts.equipment_v1 import TOPIC, DeviceCount, DevicesDelivered
from pydantic import BaseModel, Field

from services.runtime.auth import require
from services.runtime.http import correlation_id

from .handlers import record_delivery

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
    request: Request,
    response: Response,
    body: DeliveryIn,
    actor: Actor = Depends(require("coordination", "refurbisher")),
    correlation: uuid.UUID = Depends(correlation_id),
    idempotency_key: str | None = Header(default=None, max_length=200),
) -> dict[str, Any]:
    runtime = request.app.state.runtime
    delivery = DevicesDelivered(
        delivery_id=str(uuid.uuid4()), total_devices=sum(body.devices.values()), **body.model_dump()
    )
    row, created = await record_delivery(runtime.pool, runtime.topic(TOPIC), delivery, actor, correlation, idempotency_key)
    if not created:
        response.status_code = 200
    return {**row, "delivery_id": str(row["delivery_id"])}
