"""HTTP API of the equipment service: organisations, intake, the device record, custody,
condition and sanitisation, certificates and labels."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from passerelle_contracts import Actor
from passerelle_contracts.common import DeviceKind, Grade, OrganisationKind
from passerelle_contracts.equipment_v1 import TOPIC
from pydantic import BaseModel, Field, model_validator

from services.runtime.auth import require
from services.runtime.errors import NotFound, PasserelleError
from services.runtime.http import correlation_id

from . import bulk, intake, record

router = APIRouter(tags=["devices"])
MAX_CSV_BYTES = 20 * 1024 * 1024


class OrganisationIn(BaseModel):
    name: str = Field(min_length=2)
    kind: OrganisationKind
    commune: str | None = None


class DeviceIn(BaseModel):
    asset_tag: str = Field(min_length=1)
    kind: DeviceKind
    serial: str = ""
    make: str = ""
    model: str = ""
    cpu: str = ""
    ram_gb: int | None = Field(default=None, ge=0, le=4096)
    year: int | None = Field(default=None, ge=1990, le=2100)
    storage: str = Field(default="", description="Media as 'ssd:256;hdd:500:SERIAL' (type:GB[:serial]); empty for none")


class BatchIn(BaseModel):
    donor: str
    reference: str = Field(min_length=1, description="The donor's own reference; the batch's idempotency key")
    devices: list[DeviceIn] = Field(min_length=1, max_length=20_000)


class TransferIn(BaseModel):
    to: str = Field(description="The receiving organisation")
    devices: list[uuid.UUID] = Field(min_length=1, max_length=20_000)


class ConditionIn(BaseModel):
    physical: Literal["to_repair", "refurbished", "for_parts", "disposed"]
    grade: Grade | None = None
    final_spec: dict[str, Any] | None = Field(default=None, description="e.g. {'ram_gb': 8, 'storage': 'ssd:256', 'os': 'Debian 12'}")


class MediumSanitisation(BaseModel):
    medium_id: str
    method: Literal["clear", "purge", "destroy"]
    tool: str = Field(min_length=1, description="e.g. nwipe")
    tool_version: str = ""
    passes: int = Field(default=1, ge=0, le=100)
    verification: Literal["none", "sample", "full"] = "full"
    operator: str = Field(min_length=1, description="Operator id in the refurbisher's records (kept out of events)")
    started_at: datetime
    ended_at: datetime
    result: Literal["passed", "failed", "passed_with_warnings"]
    warnings: str = ""

    @model_validator(mode="after")
    def _ordered(self) -> MediumSanitisation:
        if self.ended_at < self.started_at:
            raise ValueError("ended_at is before started_at")
        return self


class SanitisationIn(BaseModel):
    records: list[MediumSanitisation] = Field(min_length=1)


def _ctx(request: Request) -> tuple[Any, str]:
    runtime = request.app.state.runtime
    return runtime.pool, runtime.topic(TOPIC)


@router.put("/organisations/{code}", summary="Register or update a donor, refurbisher or recipient organisation")
async def put_organisation(
    request: Request, code: str, body: OrganisationIn, actor: Actor = Depends(require("coordination"))
) -> dict[str, Any]:
    row = await _ctx(request)[0].fetchrow(
        """INSERT INTO organisations (code, name, kind, commune) VALUES ($1, $2, $3, $4)
           ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, kind = EXCLUDED.kind, commune = EXCLUDED.commune
           RETURNING *""",
        code, body.name, body.kind, body.commune,
    )
    return dict(row)


@router.get("/organisations")
async def get_organisations(request: Request) -> list[dict[str, Any]]:
    return [dict(r) for r in await _ctx(request)[0].fetch("SELECT * FROM organisations ORDER BY code")]


@router.post("/batches", status_code=201, summary="Declare a batch of devices (idempotent by donor + asset tag)")
async def post_batch(
    request: Request, body: BatchIn, actor: Actor = Depends(require("coordination", "donor")),
    correlation: uuid.UUID = Depends(correlation_id),
) -> dict[str, Any]:
    pool, topic = _ctx(request)
    rows = []
    for line, device in enumerate(body.devices, start=1):
        try:
            rows.append((line, intake.row_from(device.model_dump())))
        except ValueError as error:
            column, _, reason = str(error).partition("|")
            raise PasserelleError(f"devices[{line - 1}].{column}: {reason}") from None
    report = await intake.declare_batch(pool, topic, body.donor, body.reference, rows, actor, correlation)
    return report.__dict__


@router.post(
    "/batches/{donor}/{reference}/devices.csv",
    summary="Declare a batch from CSV (asset_tag, serial, kind, make, model, cpu, ram_gb, storage, year)",
    openapi_extra={"requestBody": {"content": {"text/csv": {"schema": {"type": "string"}}}, "required": True}},
)
async def post_batch_csv(
    request: Request, donor: str, reference: str, actor: Actor = Depends(require("coordination", "donor")),
    correlation: uuid.UUID = Depends(correlation_id),
) -> dict[str, Any]:
    body = await request.body()
    if len(body) > MAX_CSV_BYTES:
        raise PasserelleError("the file is larger than 20 MiB")
    rows, errors = intake.parse_csv(body.decode("utf-8", errors="replace"))
    pool, topic = _ctx(request)
    report = await intake.declare_batch(pool, topic, donor, reference, rows, actor, correlation)
    report.errors = sorted(errors + report.errors, key=lambda e: e["line"])
    return report.__dict__


@router.get("/devices", summary="Devices, filtered by state")
async def get_devices(
    request: Request,
    kind: str | None = None,
    custodian: str | None = None,
    batch: uuid.UUID | None = None,
    physical: str | None = None,
    sanitisation: str | None = None,
    allocation: str | None = None,
    limit: int = Query(500, ge=1, le=5000),
) -> list[dict[str, Any]]:
    rows = await _ctx(request)[0].fetch(
        f"""SELECT {record.DEVICE_COLUMNS} FROM devices
            WHERE ($1::text IS NULL OR kind = $1) AND ($2::text IS NULL OR custodian = $2)
              AND ($3::uuid IS NULL OR batch_id = $3) AND ($4::text IS NULL OR physical = $4)
              AND ($5::text IS NULL OR sanitisation = $5) AND ($6::text IS NULL OR allocation = $6)
            ORDER BY short_code LIMIT $7""",
        kind, custodian, batch, physical, sanitisation, allocation, limit,
    )
    return [dict(r) for r in rows]


@router.get("/devices/{device_id}", summary="One device with its media, history and sanitisation records")
async def get_device(request: Request, device_id: uuid.UUID) -> dict[str, Any]:
    pool = _ctx(request)[0]
    device = await record.get_device(pool, device_id)
    device["history"] = [dict(r) for r in await pool.fetch(
        "SELECT action, actor, custodian, data, at FROM device_history WHERE device_id = $1 ORDER BY id", device_id)]
    device["sanitisations"] = [dict(r) for r in await pool.fetch(
        """SELECT medium_id, method, tool, tool_version, passes, verification, started_at, ended_at, result, warnings
           FROM sanitisations WHERE device_id = $1 ORDER BY id""", device_id)]
    device["certificates"] = [dict(r) for r in await pool.fetch(
        "SELECT id, sha256, issued_on FROM certificates WHERE device_id = $1 ORDER BY created_at", device_id)]
    return device


@router.post("/transfers", status_code=201, summary="Hand devices over to another organisation (it confirms)")
async def post_transfer(request: Request, body: TransferIn, actor: Actor = Depends(require())) -> dict[str, Any]:
    return await record.propose_transfer(_ctx(request)[0], body.to, body.devices, actor)


@router.post("/transfers/{transfer_id}/confirm", summary="The receiving organisation confirms it holds the devices")
async def post_confirm(
    request: Request, transfer_id: uuid.UUID, actor: Actor = Depends(require()),
    correlation: uuid.UUID = Depends(correlation_id),
) -> dict[str, Any]:
    pool, topic = _ctx(request)
    return await record.confirm_transfer(pool, topic, transfer_id, actor, correlation)


@router.post("/devices/{device_id}/condition", summary="Record the physical state: to repair, refurbished (grade), ...")
async def post_condition(
    request: Request, device_id: uuid.UUID, body: ConditionIn, actor: Actor = Depends(require("coordination", "refurbisher")),
    correlation: uuid.UUID = Depends(correlation_id),
) -> dict[str, Any]:
    pool, topic = _ctx(request)
    return await record.change_condition(pool, topic, device_id, body.physical, body.grade, body.final_spec, actor, correlation)


@router.post("/devices/{device_id}/sanitisations", summary="Record the sanitisation of storage media (NIST SP 800-88)")
async def post_sanitisation(
    request: Request, device_id: uuid.UUID, body: SanitisationIn,
    actor: Actor = Depends(require("coordination", "refurbisher")), correlation: uuid.UUID = Depends(correlation_id),
) -> dict[str, Any]:
    pool, topic = _ctx(request)
    records = [record.Sanitisation(**r.model_dump()) for r in body.records]
    return await record.record_sanitisation(pool, topic, device_id, records, actor, correlation)


@router.get("/certificates/{certificate_id}.pdf", summary="A sanitisation certificate")
async def get_certificate(request: Request, certificate_id: uuid.UUID) -> Response:
    row = await _ctx(request)[0].fetchrow("SELECT content, sha256 FROM certificates WHERE id = $1", certificate_id)
    if row is None:
        raise NotFound(f"no certificate {certificate_id}")
    return Response(row["content"], media_type="application/pdf", headers={"ETag": f'"{row["sha256"]}"'})


@router.get("/devices/{device_id}/label.png", summary="The device's label (62 x 29 mm, 300 dpi) with its QR code")
async def get_label(request: Request, device_id: uuid.UUID) -> Response:
    from .documents import label_png

    labels = await record.labels_for(_ctx(request)[0], [device_id], None)
    if not labels:
        raise NotFound(f"no device {device_id}")
    return Response(await asyncio.to_thread(label_png, labels[0]), media_type="image/png")


@router.get("/batches/{batch_id}/labels.pdf", summary="A4 sheets of labels for every device of a batch")
async def get_batch_labels(request: Request, batch_id: uuid.UUID) -> Response:
    from .documents import labels_pdf

    labels = await record.labels_for(_ctx(request)[0], None, batch_id)
    if not labels:
        raise NotFound(f"no devices in batch {batch_id}")
    return Response(await asyncio.to_thread(labels_pdf, labels), media_type="application/pdf")


@router.post(
    "/sanitisations.csv",
    summary="Sanitisation records in bulk: one row per medium (" + ", ".join(bulk.COLUMNS) + ")",
    openapi_extra={"requestBody": {"content": {"text/csv": {"schema": {"type": "string"}}}, "required": True}},
)
async def post_sanitisations_csv(
    request: Request, actor: Actor = Depends(require("coordination", "refurbisher")),
    correlation: uuid.UUID = Depends(correlation_id),
) -> dict[str, Any]:
    body = await request.body()
    if len(body) > MAX_CSV_BYTES:
        raise PasserelleError("the file is larger than 20 MiB")
    pool, topic = _ctx(request)
    return await bulk.import_sanitisations(pool, topic, body.decode("utf-8", errors="replace"), actor, correlation)
