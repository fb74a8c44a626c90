"""HTTP API of redistribution: requests, caps, allocation, deliveries, follow-ups, returns,
disposals, the WEEE register and the figures.

The figures (aggregates) and the caps are public; requests (with their justifications), the
allocation preview and the WEEE register need a key and are scoped (``handlers.views``)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import Depends, Path, Query, Response
from passerelle_contracts import Actor
from passerelle_contracts.common import DeviceKind, Public, RecipientKind, ReviewDecision
from pydantic import BaseModel, Field

from services.runtime.auth import require
from services.runtime.http import api_router, repository, unit_of_work
from services.runtime.inputs import Code, Count, Happened, Line, Text, Year, brussels_today

from ..handlers import allocation, delivery, end_of_life, requests, views
from ..handlers.common import Row, Uow
from ..sql import EquipmentRepository

router = api_router(tags=["redistribution"])

MAX_ASKED = 10_000  # devices of one kind in one request
Asked = Annotated[int, Field(gt=0, le=MAX_ASKED)]
Granted = Annotated[int, Field(ge=0, le=MAX_ASKED)]
MAX_LISTED = 20_000  # devices named in one command
# A calendar year, as the caps' and the allocation runs' period: "2024".
PERIOD = r"^(20[0-9][0-9]|2100)$"
Period = Annotated[str, Field(pattern=PERIOD, min_length=4, max_length=4, description="A calendar year, e.g. 2024")]
RequestStatus = Literal["submitted", "accepted", "partially_accepted", "refused"]


class RequestIn(BaseModel):
    recipient: Code
    devices: dict[DeviceKind, Asked] = Field(min_length=1)
    public: Public | None = None
    beneficiaries: Count | None = Field(default=None, description="How many people will use them: a count, never names")
    commune: Annotated[Line, Field(min_length=1, max_length=100)] | None = None
    justification: Text = ""


class ReviewIn(BaseModel):
    decision: ReviewDecision
    granted: dict[DeviceKind, Granted] | None = None
    reason: Annotated[Text, Field(max_length=2_000)] = ""
    priority: int | None = Field(default=None, ge=0, le=10)


class CapIn(BaseModel):
    max_devices: Count


class AllocationConfirm(BaseModel):
    period: Period
    preview_token: str = Field(pattern=r"^[0-9a-f]{16}$", min_length=16, max_length=16)


class HandoverIn(BaseModel):
    recipient: Code
    devices: list[uuid.UUID] = Field(min_length=1, max_length=MAX_LISTED)
    delivered_on: Happened


class ReturnIn(BaseModel):
    returned_to: Code = Field(description="The refurbisher that takes the device back")
    reason: Annotated[Text, Field(min_length=3, max_length=2_000)]


class DisposalIn(BaseModel):
    recycler: Annotated[Line, Field(min_length=2, max_length=200)]
    disposed_on: Happened
    method: Literal["recycling", "reuse-of-parts", "destruction", "other"]
    certificate_reference: Annotated[Line, Field(min_length=1, max_length=100)]


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


@router.get("/requests", summary="Requests, with what was granted and allocated (a recipient: its own)")
async def get_requests(
    status: RequestStatus | None = None,
    repo: EquipmentRepository = Depends(repository),
    reader: Actor = Depends(require("coordination", "operator", "recipient")),
) -> list[Row]:
    return await views.requests(repo, reader, status)


@router.post("/requests/{request_id}/review", summary="Accept, partially accept or refuse a request (Coordination)")
async def post_review(request_id: uuid.UUID, body: ReviewIn, uow: Uow = Depends(unit_of_work("coordination"))) -> Row:
    granted = None if body.granted is None else {str(kind): n for kind, n in body.granted.items()}
    command = requests.ReviewRequest(request_id, body.decision, granted, body.reason, body.priority)
    return await requests.review_request(uow, command)


@router.put(
    "/caps/{period}/{recipient_kind}/{device_kind}", summary="How many devices a kind of recipient may get in a year"
)
async def put_cap(
    period: Annotated[str, Path(pattern=PERIOD, min_length=4, max_length=4)],
    recipient_kind: RecipientKind,
    device_kind: DeviceKind,
    body: CapIn,
    uow: Uow = Depends(unit_of_work("coordination")),
) -> Row:
    return await requests.set_cap(uow, requests.SetCap(period, recipient_kind, device_kind, body.max_devices))


@router.get("/caps", summary="Caps per recipient kind, device kind and year (public)")
async def get_caps(repo: EquipmentRepository = Depends(repository)) -> list[Row]:
    return await repo.caps()


@router.get("/allocation/preview", summary="What an allocation run would do now (nothing is written)")
async def get_preview(
    period: Annotated[str, Query(pattern=PERIOD, min_length=4, max_length=4)],
    repo: EquipmentRepository = Depends(repository),
    _: Actor = Depends(require("coordination", "operator")),
) -> dict[str, Any]:
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


@router.post(
    "/handovers/{handover_id}/cancel",
    summary="Cancel a delivery not acknowledged (its recorder, the holder, its recipient or the Coordination)",
)
async def post_cancel_handover(
    handover_id: uuid.UUID, uow: Uow = Depends(unit_of_work("coordination", "refurbisher", "recipient"))
) -> Row:
    return await delivery.cancel_handover(uow, delivery.CancelHandover(handover_id))


@router.post("/follow-ups/check", summary="Send the six-monthly follow-up reminders that are due (also runs hourly)")
async def post_follow_ups(
    as_of: Happened | None = None, uow: Uow = Depends(unit_of_work("coordination", "operator"))
) -> dict[str, Any]:
    sent = await delivery.send_due_follow_ups(uow, delivery.SendFollowUps(as_of or brussels_today()))
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


@router.get("/weee/{year}.csv", summary="The year's disposed equipment, for the WEEE register (the caller's devices)")
async def get_weee(
    year: Year, repo: EquipmentRepository = Depends(repository), reader: Actor = Depends(require())
) -> Response:
    return Response(
        await views.weee_register(repo, year, reader),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="weee-{year}.csv"'},
    )


@router.get(
    "/figures",
    summary="Stock and flow at a date: by donor, recipient kind, public, commune; intake-to-delivery time (public)",
)
async def get_figures(
    as_of: Happened | None = Query(None, description="A day from 2000-01-01 to today (Brussels); today if not given"),
    repo: EquipmentRepository = Depends(repository),
) -> dict[str, Any]:
    return await views.stock_and_flow(repo, as_of or brussels_today())
