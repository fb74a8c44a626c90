"""HTTP API of the device record: organisations, intake, devices, custody, condition and
sanitisation, certificates and labels."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from passerelle_contracts.common import DeviceKind, Grade, OrganisationKind
from pydantic import BaseModel, Field, model_validator

from services.runtime.errors import NotFound, PasserelleError
from services.runtime.http import repository, unit_of_work

from .. import csv_formats
from ..domain import Sanitisation
from ..handlers import custody, intake, refurbishing, views
from ..handlers.common import Row, Uow
from ..sql import EquipmentRepository

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
    final_spec: dict[str, Any] | None = Field(
        default=None, description="e.g. {'ram_gb': 8, 'storage': 'ssd:256', 'os': 'Debian 12'}"
    )


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


async def _csv_text(request: Request) -> str:
    body = await request.body()
    if len(body) > MAX_CSV_BYTES:
        raise PasserelleError("the file is larger than 20 MiB")
    return body.decode("utf-8", errors="replace")


@router.put("/organisations/{code}", summary="Register or update a donor, refurbisher or recipient organisation")
async def put_organisation(code: str, body: OrganisationIn, uow: Uow = Depends(unit_of_work("coordination"))) -> Row:
    return await intake.put_organisation(uow, intake.PutOrganisation(code, body.name, body.kind, body.commune))


@router.get("/organisations")
async def get_organisations(repo: EquipmentRepository = Depends(repository)) -> list[Row]:
    return await repo.organisations()


@router.post("/batches", status_code=201, summary="Declare a batch of devices (idempotent by donor + asset tag)")
async def post_batch(body: BatchIn, uow: Uow = Depends(unit_of_work("coordination", "donor"))) -> dict[str, Any]:
    rows = []
    for line, device in enumerate(body.devices, start=1):
        try:
            rows.append((line, csv_formats.row_from(device.model_dump())))
        except ValueError as error:
            column, _, reason = str(error).partition("|")
            raise PasserelleError(f"devices[{line - 1}].{column}: {reason}") from None
    report = await intake.declare_batch(uow, intake.DeclareBatch(body.donor, body.reference, rows))
    return report.__dict__


@router.post(
    "/batches/{donor}/{reference}/devices.csv",
    summary="Declare a batch from CSV (asset_tag, serial, kind, make, model, cpu, ram_gb, storage, year)",
    openapi_extra={"requestBody": {"content": {"text/csv": {"schema": {"type": "string"}}}, "required": True}},
)
async def post_batch_csv(
    request: Request, donor: str, reference: str, uow: Uow = Depends(unit_of_work("coordination", "donor"))
) -> dict[str, Any]:
    rows, errors = csv_formats.parse_csv(await _csv_text(request))
    report = await intake.declare_batch(uow, intake.DeclareBatch(donor, reference, rows))
    report.errors = sorted(errors + report.errors, key=lambda e: e["line"])
    return report.__dict__


@router.get("/devices", summary="Devices, filtered by state")
async def get_devices(
    kind: str | None = None,
    custodian: str | None = None,
    batch: uuid.UUID | None = None,
    physical: str | None = None,
    sanitisation: str | None = None,
    allocation: str | None = None,
    limit: int = Query(500, ge=1, le=5000),
    repo: EquipmentRepository = Depends(repository),
) -> list[Row]:
    return await repo.find_devices(
        kind=kind,
        custodian=custodian,
        batch=batch,
        physical=physical,
        sanitisation=sanitisation,
        allocation=allocation,
        limit=limit,
    )


@router.get("/devices/{device_id}", summary="One device with its media, history and sanitisation records")
async def get_device(device_id: uuid.UUID, repo: EquipmentRepository = Depends(repository)) -> Row:
    return await views.device_record(repo, device_id)


@router.post("/transfers", status_code=201, summary="Hand devices over to another organisation (it confirms)")
async def post_transfer(body: TransferIn, uow: Uow = Depends(unit_of_work())) -> Row:
    return await custody.propose_transfer(uow, custody.ProposeTransfer(body.to, body.devices))


@router.post("/transfers/{transfer_id}/confirm", summary="The receiving organisation confirms it holds the devices")
async def post_confirm(transfer_id: uuid.UUID, uow: Uow = Depends(unit_of_work())) -> Row:
    return await custody.confirm_transfer(uow, custody.ConfirmTransfer(transfer_id))


@router.post("/devices/{device_id}/condition", summary="Record the physical state: to repair, refurbished (grade), ...")
async def post_condition(
    device_id: uuid.UUID, body: ConditionIn, uow: Uow = Depends(unit_of_work("coordination", "refurbisher"))
) -> Row:
    command = refurbishing.ChangeCondition(device_id, body.physical, body.grade, body.final_spec)
    return await refurbishing.change_condition(uow, command)


@router.post("/devices/{device_id}/sanitisations", summary="Record the sanitisation of storage media (NIST SP 800-88)")
async def post_sanitisation(
    device_id: uuid.UUID, body: SanitisationIn, uow: Uow = Depends(unit_of_work("coordination", "refurbisher"))
) -> Row:
    records = [Sanitisation(**r.model_dump()) for r in body.records]
    return await refurbishing.record_sanitisation(uow, refurbishing.RecordSanitisation(device_id, records))


@router.get("/certificates/{certificate_id}.pdf", summary="A sanitisation certificate")
async def get_certificate(certificate_id: uuid.UUID, repo: EquipmentRepository = Depends(repository)) -> Response:
    certificate = await views.certificate(repo, certificate_id)
    return Response(
        certificate["content"], media_type="application/pdf", headers={"ETag": f'"{certificate["sha256"]}"'}
    )


@router.get("/devices/{device_id}/label.png", summary="The device's label (62 x 29 mm, 300 dpi) with its QR code")
async def get_label(device_id: uuid.UUID, repo: EquipmentRepository = Depends(repository)) -> Response:
    from ..documents import label_png

    labels = await views.labels(repo, device_ids=[device_id])
    if not labels:
        raise NotFound(f"no device {device_id}")
    return Response(await asyncio.to_thread(label_png, labels[0]), media_type="image/png")


@router.get("/batches/{batch_id}/labels.pdf", summary="A4 sheets of labels for every device of a batch")
async def get_batch_labels(batch_id: uuid.UUID, repo: EquipmentRepository = Depends(repository)) -> Response:
    from ..documents import labels_pdf

    labels = await views.labels(repo, batch_id=batch_id)
    if not labels:
        raise NotFound(f"no devices in batch {batch_id}")
    return Response(await asyncio.to_thread(labels_pdf, labels), media_type="application/pdf")


@router.post(
    "/sanitisations.csv",
    summary="Sanitisation records in bulk: one row per medium (" + ", ".join(csv_formats.SANITISATION_COLUMNS) + ")",
    openapi_extra={"requestBody": {"content": {"text/csv": {"schema": {"type": "string"}}}, "required": True}},
)
async def post_sanitisations_csv(
    request: Request, uow: Uow = Depends(unit_of_work("coordination", "refurbisher"))
) -> dict[str, Any]:
    text = await _csv_text(request)
    return await refurbishing.import_sanitisations(uow, refurbishing.ImportSanitisations(text))
