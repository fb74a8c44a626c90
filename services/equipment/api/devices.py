"""HTTP API of the device record: organisations, intake, devices, custody, condition and
sanitisation, certificates and labels.

Every value is bounded (``services.runtime.inputs``) and its bound is in the OpenAPI document.
Reads need a key and show each organisation what concerns it (``handlers.views``)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Annotated, Any, Literal

from fastapi import Depends, Query, Request, Response
from passerelle_contracts import Actor
from passerelle_contracts.common import DeviceKind, Grade, OrganisationKind, PhysicalState, SanitisationState
from pydantic import BaseModel, ConfigDict, Field, model_validator

from services.runtime.auth import require
from services.runtime.errors import NotFound, PasserelleError
from services.runtime.http import api_router, repository, unit_of_work
from services.runtime.inputs import CSV_ENCODING_NOTE, Code, HappenedAt, Line, Text, decode_csv

from .. import csv_formats
from ..domain import Sanitisation
from ..handlers import custody, intake, refurbishing, views
from ..handlers.common import Row, Uow
from ..sql import EquipmentRepository

router = api_router(tags=["devices"])
MAX_CSV_BYTES = 20 * 1024 * 1024  # a 10,000-device inventory is about 1.5 MiB
CSV_BODY = {
    "requestBody": {
        "content": {"text/csv": {"schema": {"type": "string", "maxLength": MAX_CSV_BYTES}}},
        "required": True,
        "description": f"CSV, {CSV_ENCODING_NOTE}; at most 20 MiB",
    }
}
MAX_DEVICES = 5_000  # a JSON batch (about 700 KiB); larger inventories come as CSV
MAX_LISTED = 20_000  # devices named in one command (a season's batch)

# The kinds the contracts name, and two the equipment service needs to tell apart from the
# regional bodies whose donations count for action 57 (only the contracts' kinds go on events).
EquipmentOrganisationKind = Literal[OrganisationKind, "community-body", "parliament"]
AllocationState = Literal["available", "reserved", "allocated", "delivered", "returned"]  # domain.ALLOCATION
Tag = Annotated[Line, Field(min_length=1, max_length=csv_formats.LIMITS["asset_tag"])]
Short = Annotated[Line, Field(max_length=100)]
Reference = Annotated[Line, Field(min_length=1, max_length=100)]
DeviceIds = Annotated[list[uuid.UUID], Field(min_length=1, max_length=MAX_LISTED)]


class OrganisationIn(BaseModel):
    name: Annotated[Line, Field(min_length=2, max_length=200)]
    kind: EquipmentOrganisationKind
    commune: Annotated[Line, Field(min_length=1, max_length=100)] | None = None


class DeviceIn(BaseModel):
    asset_tag: Tag
    kind: DeviceKind
    serial: Short = ""
    make: Short = ""
    model: Short = ""
    cpu: Short = ""
    ram_gb: int | None = Field(default=None, ge=0, le=4096)
    year: int | None = Field(default=None, ge=1990, le=2100)
    storage: Annotated[Line, Field(max_length=2_000)] = Field(
        default="",
        description="Media as 'ssd:256;hdd:500:SERIAL' (type:GB[:serial], at most 16); empty: not declared, the "
        "media are then unknown until a refurbisher inspects the device (a screen has none)",
    )


class BatchIn(BaseModel):
    donor: Code
    reference: Reference = Field(description="The donor's own reference; the batch's idempotency key")
    devices: list[DeviceIn] = Field(min_length=1, max_length=MAX_DEVICES)


class TransferIn(BaseModel):
    to: Code = Field(description="The receiving organisation")
    devices: DeviceIds


class FinalSpec(BaseModel):
    """The device as refurbished."""

    model_config = ConfigDict(extra="forbid")

    ram_gb: int | None = Field(default=None, ge=0, le=4096)
    storage: Annotated[Line, Field(max_length=200)] | None = None
    cpu: Short | None = None
    os: Short | None = None
    notes: Annotated[Line, Field(max_length=200)] | None = None


class ConditionIn(BaseModel):
    physical: Literal["to_repair", "refurbished", "for_parts", "disposed"]
    grade: Grade | None = None
    final_spec: FinalSpec | None = Field(
        default=None, description="e.g. {'ram_gb': 8, 'storage': 'ssd:256', 'os': 'Debian 12'}"
    )


class MediumSanitisation(BaseModel):
    medium_id: Annotated[Line, Field(min_length=1, max_length=csv_formats.LIMITS["medium_id"])]
    method: Literal["clear", "purge", "destroy"]
    tool: Annotated[Line, Field(min_length=1, max_length=csv_formats.LIMITS["tool"])] = Field(description="e.g. nwipe")
    tool_version: Annotated[Line, Field(max_length=csv_formats.LIMITS["tool_version"])] = ""
    passes: int = Field(default=1, ge=0, le=csv_formats.MAX_PASSES)
    verification: Literal["none", "sample", "full"] = "full"
    operator: Annotated[Line, Field(min_length=1, max_length=csv_formats.LIMITS["operator"])] = Field(
        description="Operator id in the refurbisher's records (kept out of events)"
    )
    started_at: HappenedAt
    ended_at: HappenedAt
    result: Literal["passed", "failed", "passed_with_warnings"]
    warnings: Annotated[Text, Field(max_length=csv_formats.LIMITS["warnings"])] = ""

    @model_validator(mode="after")
    def _ordered(self) -> MediumSanitisation:
        if self.ended_at < self.started_at:
            raise ValueError("ended_at is before started_at")
        return self


class SanitisationIn(BaseModel):
    records: list[MediumSanitisation] = Field(min_length=1, max_length=2 * csv_formats.MAX_MEDIA)


class MediumIn(BaseModel):
    type: Literal["hdd", "ssd", "nvme", "emmc", "sd", "other"]  # csv_formats.MEDIUM_TYPES
    capacity_gb: int | None = Field(default=None, ge=1, le=csv_formats.MAX_CAPACITY_GB)
    serial: Annotated[Line, Field(max_length=csv_formats.LIMITS["medium_serial"])] = ""


class MediaIn(BaseModel):
    media: list[MediumIn] = Field(
        max_length=csv_formats.MAX_MEDIA,
        description="The storage media found when the device was opened; an empty list: it has none",
    )


async def _csv_text(request: Request, required: tuple[str, ...]) -> str:
    """The uploaded CSV as text: UTF-8 only (a Latin-1 file is refused with its line, not stored
    with replacement characters). Its size was bounded before: the routes' ``max_body_size``
    answers 413 to a body larger than ``MAX_CSV_BYTES``."""
    return decode_csv(await request.body(), required)


@router.put("/organisations/{code}", summary="Register or update a donor, refurbisher or recipient organisation")
async def put_organisation(code: Code, body: OrganisationIn, uow: Uow = Depends(unit_of_work("coordination"))) -> Row:
    return await intake.put_organisation(uow, intake.PutOrganisation(code, body.name, body.kind, body.commune))


@router.get("/organisations", summary="The registered organisations (codes, kinds, communes)")
async def get_organisations(
    repo: EquipmentRepository = Depends(repository), _: Actor = Depends(require())
) -> list[Row]:
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
    openapi_extra=CSV_BODY,
    max_body_size=MAX_CSV_BYTES,
)
async def post_batch_csv(
    request: Request, donor: Code, reference: Reference, uow: Uow = Depends(unit_of_work("coordination", "donor"))
) -> dict[str, Any]:
    rows, errors = csv_formats.parse_csv(await _csv_text(request, csv_formats.DEVICE_REQUIRED))
    report = await intake.declare_batch(uow, intake.DeclareBatch(donor, reference, rows))
    report.errors = sorted(errors + report.errors, key=lambda e: e["line"])
    return report.__dict__


@router.get("/devices", summary="Devices, filtered by state: those the caller gave, holds or is offered")
async def get_devices(
    kind: DeviceKind | None = None,
    custodian: Code | None = None,
    batch: uuid.UUID | None = None,
    physical: PhysicalState | None = None,
    sanitisation: SanitisationState | None = None,
    allocation: AllocationState | None = None,
    limit: int = Query(500, ge=1, le=5000),
    repo: EquipmentRepository = Depends(repository),
    reader: Actor = Depends(require()),
) -> list[Row]:
    return await views.devices(
        repo,
        reader,
        kind=kind,
        custodian=custodian,
        batch=batch,
        physical=physical,
        sanitisation=sanitisation,
        allocation=allocation,
        limit=limit,
    )


@router.get("/devices/{device_id}", summary="One device with its media, history and sanitisation records")
async def get_device(
    device_id: uuid.UUID, repo: EquipmentRepository = Depends(repository), reader: Actor = Depends(require())
) -> Row:
    return await views.device_record(repo, device_id, reader)


@router.post("/transfers", status_code=201, summary="Hand devices over to another organisation (it confirms)")
async def post_transfer(body: TransferIn, uow: Uow = Depends(unit_of_work())) -> Row:
    return await custody.propose_transfer(uow, custody.ProposeTransfer(body.to, body.devices))


@router.post("/transfers/{transfer_id}/confirm", summary="The receiving organisation confirms it holds the devices")
async def post_confirm(transfer_id: uuid.UUID, uow: Uow = Depends(unit_of_work())) -> Row:
    return await custody.confirm_transfer(uow, custody.ConfirmTransfer(transfer_id))


@router.post("/transfers/{transfer_id}/cancel", summary="Either side cancels a transfer not confirmed yet")
async def post_cancel_transfer(transfer_id: uuid.UUID, uow: Uow = Depends(unit_of_work())) -> Row:
    return await custody.cancel_transfer(uow, custody.CancelTransfer(transfer_id))


@router.post("/devices/{device_id}/condition", summary="Record the physical state: to repair, refurbished (grade), ...")
async def post_condition(
    device_id: uuid.UUID, body: ConditionIn, uow: Uow = Depends(unit_of_work("coordination", "refurbisher"))
) -> Row:
    spec = None if body.final_spec is None else body.final_spec.model_dump(exclude_none=True)
    command = refurbishing.ChangeCondition(device_id, body.physical, body.grade, spec)
    return await refurbishing.change_condition(uow, command)


@router.post("/devices/{device_id}/sanitisations", summary="Record the sanitisation of storage media (NIST SP 800-88)")
async def post_sanitisation(
    device_id: uuid.UUID, body: SanitisationIn, uow: Uow = Depends(unit_of_work("coordination", "refurbisher"))
) -> Row:
    records = [Sanitisation(**r.model_dump()) for r in body.records]
    return await refurbishing.record_sanitisation(uow, refurbishing.RecordSanitisation(device_id, records))


@router.post(
    "/devices/{device_id}/media",
    summary="Record the storage media found when the device was opened (none: it has none); they must be wiped",
)
async def post_media(
    device_id: uuid.UUID, body: MediaIn, uow: Uow = Depends(unit_of_work("coordination", "refurbisher"))
) -> Row:
    media = [(m.type, m.capacity_gb, m.serial) for m in body.media]
    return await refurbishing.record_media(uow, refurbishing.RecordMedia(device_id, media))


@router.get(
    "/certificates/{certificate_id}.pdf", summary="A sanitisation certificate (of a device the caller may read)"
)
async def get_certificate(
    certificate_id: uuid.UUID, repo: EquipmentRepository = Depends(repository), reader: Actor = Depends(require())
) -> Response:
    certificate = await views.certificate(repo, certificate_id, reader)
    return Response(
        certificate["content"], media_type="application/pdf", headers={"ETag": f'"{certificate["sha256"]}"'}
    )


@router.get("/devices/{device_id}/label.png", summary="The device's label (62 x 29 mm, 300 dpi) with its QR code")
async def get_label(
    device_id: uuid.UUID, repo: EquipmentRepository = Depends(repository), reader: Actor = Depends(require())
) -> Response:
    from ..documents import label_png

    labels = await views.labels(repo, reader, device_ids=[device_id])
    if not labels:
        raise NotFound(f"no device {device_id}")
    return Response(await asyncio.to_thread(label_png, labels[0]), media_type="image/png")


@router.get(
    "/batches/{batch_id}/labels.pdf", summary="A4 sheets of labels for the devices of a batch the caller may read"
)
async def get_batch_labels(
    batch_id: uuid.UUID, repo: EquipmentRepository = Depends(repository), reader: Actor = Depends(require())
) -> Response:
    from ..documents import labels_pdf

    labels = await views.labels(repo, reader, batch_id=batch_id)
    if not labels:
        raise NotFound(f"no devices in batch {batch_id}")
    return Response(await asyncio.to_thread(labels_pdf, labels), media_type="application/pdf")


@router.post(
    "/sanitisations.csv",
    summary="Sanitisation records in bulk: one row per medium (" + ", ".join(csv_formats.SANITISATION_COLUMNS) + ")",
    description="Checked whole before anything is applied, then applied in one transaction; rows already "
    "recorded (the same log sent again) change nothing and are counted as `unchanged`.",
    openapi_extra=CSV_BODY,
    max_body_size=MAX_CSV_BYTES,
)
async def post_sanitisations_csv(
    request: Request, uow: Uow = Depends(unit_of_work("coordination", "refurbisher"))
) -> dict[str, Any]:
    required = tuple(c for c in csv_formats.SANITISATION_COLUMNS if c not in csv_formats.SANITISATION_OPTIONAL)
    text = await _csv_text(request, required)
    return await refurbishing.import_sanitisations(uow, refurbishing.ImportSanitisations(text))


@router.post(
    "/conditions.csv",
    summary="Physical conditions in bulk: one row per change (" + ", ".join(csv_formats.CONDITION_COLUMNS) + ")",
    description="A workshop's sheet: `physical` is to_repair, refurbished (with a `grade` A, B or C), for_parts or "
    "disposed, as `POST /devices/{id}/condition` takes it. Checked whole before anything is applied, then applied "
    "in one transaction; a device's rows are applied in the file's order, and if one of them cannot be, none of "
    "that device's is (each reported with its line). Rows that change nothing are counted as `unchanged`.",
    openapi_extra=CSV_BODY,
    max_body_size=MAX_CSV_BYTES,
)
async def post_conditions_csv(
    request: Request, uow: Uow = Depends(unit_of_work("coordination", "refurbisher"))
) -> dict[str, Any]:
    required = tuple(c for c in csv_formats.CONDITION_COLUMNS if c not in csv_formats.CONDITION_OPTIONAL)
    text = await _csv_text(request, required)
    return await refurbishing.import_conditions(uow, refurbishing.ImportConditions(text))
