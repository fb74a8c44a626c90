"""HTTP API of the equipment service: requests, caps, allocation, deliveries, follow-ups,
returns, disposals and the WEEE export."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import date
from typing import Any, Literal

from fastapi import APIRouter, Depends, Request, Response
from passerelle_contracts import Actor
from passerelle_contracts.common import DeviceKind, Public, ReviewDecision
from passerelle_contracts.equipment_v1 import TOPIC, DeviceCount
from pydantic import BaseModel, Field

from services.runtime.auth import require
from services.runtime.http import correlation_id

from . import redistribution as r

router = APIRouter(tags=["redistribution"])
Correlation = Depends(correlation_id)


class RequestIn(BaseModel):
    recipient: str
    devices: dict[DeviceKind, DeviceCount] = Field(min_length=1)
    public: Public | None = None
    beneficiaries: int | None = Field(default=None, ge=0, description="How many people will use them: a count, never names")
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


def _ctx(request: Request) -> tuple[Any, str]:
    runtime = request.app.state.runtime
    return runtime.pool, runtime.topic(TOPIC)


@router.post("/requests", status_code=201, summary="A recipient organisation asks for devices")
async def post_request(request: Request, body: RequestIn, actor: Actor = Depends(require("coordination", "recipient")),
                       correlation: uuid.UUID = Correlation) -> dict[str, Any]:
    pool, topic = _ctx(request)
    return await r.submit_request(pool, topic, body.recipient, dict(body.devices), body.public, body.beneficiaries,
                                  body.commune, body.justification, actor, correlation)


@router.get("/requests", summary="Requests, with what was granted and allocated")
async def get_requests(request: Request, status: str | None = None) -> list[dict[str, Any]]:
    rows = await _ctx(request)[0].fetch(
        """SELECT q.*, (SELECT count(*) FROM allocations a WHERE a.request_id = q.id AND a.status IN ('allocated', 'delivered'))
                  AS allocated
           FROM requests q WHERE ($1::text IS NULL OR q.status = $1) ORDER BY q.submitted_at""",
        status,
    )
    return [dict(x) for x in rows]


@router.post("/requests/{request_id}/review", summary="Accept, partially accept or refuse a request (Coordination)")
async def post_review(request: Request, request_id: uuid.UUID, body: ReviewIn,
                      actor: Actor = Depends(require("coordination")), correlation: uuid.UUID = Correlation) -> dict[str, Any]:
    pool, topic = _ctx(request)
    return await r.review_request(pool, topic, request_id, body.decision, body.granted, body.reason, body.priority, actor,
                                  correlation)


@router.put("/caps/{period}/{recipient_kind}/{device_kind}", summary="How many devices a kind of recipient may get in a year")
async def put_cap(request: Request, period: str, recipient_kind: str, device_kind: DeviceKind, body: CapIn,
                  actor: Actor = Depends(require("coordination"))) -> dict[str, Any]:
    row = await _ctx(request)[0].fetchrow(
        """INSERT INTO caps (recipient_kind, device_kind, period, max_devices) VALUES ($1, $2, $3, $4)
           ON CONFLICT (recipient_kind, device_kind, period) DO UPDATE SET max_devices = EXCLUDED.max_devices RETURNING *""",
        recipient_kind, device_kind, period, body.max_devices,
    )
    return dict(row)


@router.get("/caps", summary="Caps per recipient kind, device kind and year")
async def get_caps(request: Request) -> list[dict[str, Any]]:
    return [dict(x) for x in await _ctx(request)[0].fetch("SELECT * FROM caps ORDER BY period, recipient_kind, device_kind")]


@router.get("/allocation/preview", summary="What an allocation run would do now (nothing is written)")
async def get_preview(request: Request, period: str) -> dict[str, Any]:
    return await r.preview_allocation(_ctx(request)[0], period)


@router.post("/allocation/confirm", summary="Apply the previewed allocation (refused if anything changed since)")
async def post_confirm(request: Request, body: AllocationConfirm, actor: Actor = Depends(require("coordination")),
                       correlation: uuid.UUID = Correlation) -> dict[str, Any]:
    pool, topic = _ctx(request)
    return await r.confirm_allocation(pool, topic, body.period, body.preview_token, actor, correlation)


@router.post("/handovers", status_code=201, summary="Hand allocated devices to their recipient (it acknowledges)")
async def post_handover(request: Request, body: HandoverIn,
                        actor: Actor = Depends(require("coordination", "refurbisher"))) -> dict[str, Any]:
    return await r.record_handover(_ctx(request)[0], body.recipient, body.devices, body.delivered_on, actor)


@router.post("/handovers/{handover_id}/acknowledge", summary="The recipient acknowledges the delivery")
async def post_acknowledge(request: Request, handover_id: uuid.UUID, actor: Actor = Depends(require("coordination", "recipient")),
                           correlation: uuid.UUID = Correlation) -> dict[str, Any]:
    pool, topic = _ctx(request)
    return await r.acknowledge_handover(pool, topic, handover_id, actor, correlation)


@router.post("/follow-ups/check", summary="Send the six-monthly follow-up reminders that are due (also runs hourly)")
async def post_follow_ups(request: Request, as_of: date | None = None,
                          actor: Actor = Depends(require("coordination", "operator"))) -> dict[str, Any]:
    pool, topic = _ctx(request)
    sent = await r.follow_ups_due(pool, topic, as_of or date.today())
    return {"reminders": [e.data["delivery_id"] for e in sent]}


@router.post("/devices/{device_id}/return", summary="A recipient returns a device to a refurbisher")
async def post_return(request: Request, device_id: uuid.UUID, body: ReturnIn,
                      actor: Actor = Depends(require("coordination", "recipient")), correlation: uuid.UUID = Correlation) -> dict[str, Any]:
    pool, topic = _ctx(request)
    return await r.return_device(pool, topic, device_id, body.returned_to, body.reason, actor, correlation)


@router.post("/devices/{device_id}/disposal", summary="Record the end of life of a device with a recycler")
async def post_disposal(request: Request, device_id: uuid.UUID, body: DisposalIn,
                        actor: Actor = Depends(require("coordination", "refurbisher")), correlation: uuid.UUID = Correlation) -> dict[str, Any]:
    pool, topic = _ctx(request)
    return await r.dispose_device(pool, topic, device_id, body.recycler, body.disposed_on, body.method,
                                  body.certificate_reference, actor, correlation)


@router.get("/weee/{year}.csv", summary="The year's disposed equipment, for the WEEE register")
async def get_weee(request: Request, year: int) -> Response:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(r.WEEE_COLUMNS)
    for row in await r.weee_rows(_ctx(request)[0], year):
        writer.writerow(["" if row[c] is None else row[c] for c in r.WEEE_COLUMNS])
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="weee-{year}.csv"'})


@router.get("/figures", summary="Stock and flow at a date: by donor, recipient kind, public, commune; intake-to-delivery time")
async def get_figures(request: Request, as_of: date | None = None) -> dict[str, Any]:
    from .figures import figures

    return await figures(_ctx(request)[0], as_of or date.today())
