"""HTTP API of redistribution: requests, caps, allocation, deliveries, follow-ups, returns,
disposals, the WEEE register and the figures."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any, Literal

from fastapi import APIRouter, Depends, Response
from passerelle_contracts.common import DeviceKind, Public, ReviewDecision
from passerelle_contracts.equipment_v1 import DeviceCount
from pydantic import BaseModel, Field

from services.runtime.http import repository, unit_of_work

from ..handlers import allocation, delivery, end_of_life, requests, views
from ..handlers.common import Row, Uow, today
from ..sql import EquipmentRepository

router = APIRouter(tags=["redistribution"])


class RequestIn(BaseModel):
    recipient: str
    devices: dict[DeviceKind, DeviceCount] = Field(min_length=1)
    public: Public | None = None
    beneficiaries: int | None = Field(
        default=None, ge=0, description="How many people will use them: a count, never names"
    )
    commune: str | None = None
    justification: str = Field(default="", max_length=5_000)


class ReviewIn(BaseModel):
    decision: ReviewDecision
    granted: dict[DeviceKind, int] | None = None
    reason: str = ""
    priority: int | None = Field(default=None, ge=0, le=10)


class CapIn(BaseModel):
    max_devices: int = Field(ge=0)


class AllocationConfirm(BaseModel):
    period: str = Field(pattern=r"^\d{4}$")
    preview_token: str


class HandoverIn(BaseModel):
    recipient: str
    devices: list[uuid.UUID] = Field(min_length=1)
    delivered_on: date


class ReturnIn(BaseModel):
    returned_to: str = Field(description="The refurbisher that takes the device back")
    reason: str = Field(min_length=3, max_length=2_000)


class DisposalIn(BaseModel):
    recycler: str = Field(min_length=2)
    disposed_on: date
    method: Literal["recycling", "reuse-of-parts", "destruction", "other"]
    certificate_reference: str = Field(min_length=1)


@router.post("/requests", status_code=201, summary="A recipient organisation asks for devices")
async def post_request(body: RequestIn, uow: Uow = Depends(unit_of_work("coordination", "recipient"))) -> Row:
    command = requests.SubmitRequest(
        body.recipient,
        {str(kind): n for kind, n in body.devices.items()},
        body.public,
        body.beneficiaries,
        body.commune,
        body.justification,
    )
    return await requests.submit_request(uow, command)


@router.get("/requests", summary="Requests, with what was granted and allocated")
async def get_requests(status: str | None = None, repo: EquipmentRepository = Depends(repository)) -> list[Row]:
    return await repo.requests(status)


@router.post("/requests/{request_id}/review", summary="Accept, partially accept or refuse a request (Coordination)")
async def post_review(request_id: uuid.UUID, body: ReviewIn, uow: Uow = Depends(unit_of_work("coordination"))) -> Row:
    granted = None if body.granted is None else {str(kind): n for kind, n in body.granted.items()}
    command = requests.ReviewRequest(request_id, body.decision, granted, body.reason, body.priority)
    return await requests.review_request(uow, command)


@router.put(
    "/caps/{period}/{recipient_kind}/{device_kind}", summary="How many devices a kind of recipient may get in a year"
)
async def put_cap(
    period: str,
    recipient_kind: str,
    device_kind: DeviceKind,
    body: CapIn,
    uow: Uow = Depends(unit_of_work("coordination")),
) -> Row:
    return await requests.set_cap(uow, requests.SetCap(period, recipient_kind, device_kind, body.max_devices))


@router.get("/caps", summary="Caps per recipient kind, device kind and year")
async def get_caps(repo: EquipmentRepository = Depends(repository)) -> list[Row]:
    return await repo.caps()


@router.get("/allocation/preview", summary="What an allocation run would do now (nothing is written)")
async def get_preview(period: str, repo: EquipmentRepository = Depends(repository)) -> dict[str, Any]:
    return await allocation.preview_allocation(repo, period)


@router.post("/allocation/confirm", summary="Apply the previewed allocation (refused if anything changed since)")
async def post_confirm(body: AllocationConfirm, uow: Uow = Depends(unit_of_work("coordination"))) -> dict[str, Any]:
    return await allocation.confirm_allocation(uow, allocation.ConfirmAllocation(body.period, body.preview_token))


@router.post("/handovers", status_code=201, summary="Hand allocated devices to their recipient (it acknowledges)")
async def post_handover(body: HandoverIn, uow: Uow = Depends(unit_of_work("coordination", "refurbisher"))) -> Row:
    return await delivery.record_handover(uow, delivery.RecordHandover(body.recipient, body.devices, body.delivered_on))


@router.post("/handovers/{handover_id}/acknowledge", summary="The recipient acknowledges the delivery")
async def post_acknowledge(
    handover_id: uuid.UUID, uow: Uow = Depends(unit_of_work("coordination", "recipient"))
) -> Row:
    return await delivery.acknowledge_handover(uow, delivery.AcknowledgeHandover(handover_id))


@router.post("/follow-ups/check", summary="Send the six-monthly follow-up reminders that are due (also runs hourly)")
async def post_follow_ups(
    as_of: date | None = None, uow: Uow = Depends(unit_of_work("coordination", "operator"))
) -> dict[str, Any]:
    sent = await delivery.send_due_follow_ups(uow, delivery.SendFollowUps(as_of or today()))
    return {"reminders": [e.data["delivery_id"] for e in sent]}


@router.post("/devices/{device_id}/return", summary="A recipient returns a device to a refurbisher")
async def post_return(
    device_id: uuid.UUID, body: ReturnIn, uow: Uow = Depends(unit_of_work("coordination", "recipient"))
) -> dict[str, Any]:
    return await end_of_life.return_device(uow, end_of_life.ReturnDevice(device_id, body.returned_to, body.reason))


@router.post("/devices/{device_id}/disposal", summary="Record the end of life of a device with a recycler")
async def post_disposal(
    device_id: uuid.UUID, body: DisposalIn, uow: Uow = Depends(unit_of_work("coordination", "refurbisher"))
) -> dict[str, Any]:
    command = end_of_life.DisposeDevice(
        device_id, body.recycler, body.disposed_on, body.method, body.certificate_reference
    )
    return await end_of_life.dispose_device(uow, command)


@router.get("/weee/{year}.csv", summary="The year's disposed equipment, for the WEEE register")
async def get_weee(year: int, repo: EquipmentRepository = Depends(repository)) -> Response:
    return Response(
        await views.weee_register(repo, year),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="weee-{year}.csv"'},
    )


@router.get(
    "/figures", summary="Stock and flow at a date: by donor, recipient kind, public, commune; intake-to-delivery time"
)
async def get_figures(as_of: date | None = None, repo: EquipmentRepository = Depends(repository)) -> dict[str, Any]:
    return await views.stock_and_flow(repo, as_of or today())
