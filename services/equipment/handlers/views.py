"""What people read: organisations, devices with their record, requests, caps, documents, the WEEE
register and the figures. Reads take the repository (on the pool): no unit of work, no key."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from .. import csv_formats, domain, figures
from ..documents import LabelData
from ..sql import EquipmentRepository
from .common import Row, found


async def device_record(repo: EquipmentRepository, device_id: uuid.UUID) -> Row:
    """A device with its media, history, sanitisation records and certificates."""
    device = found(await repo.device(device_id), f"device {device_id}")
    device["history"] = await repo.history(device_id)
    device["sanitisations"] = await repo.sanitisation_records(device_id)
    device["certificates"] = await repo.certificates_of(device_id)
    return device


async def labels(
    repo: EquipmentRepository, device_ids: list[uuid.UUID] | None = None, batch_id: uuid.UUID | None = None
) -> list[LabelData]:
    """The labels of some devices or of a batch's, in short code order."""
    return [
        LabelData(
            device_id=str(r["id"]),
            short_code=r["short_code"],
            kind=r["kind"],
            make=r["make"],
            model=r["model"],
            donor=r["donor"],
            asset_tag=r["asset_tag"],
            qr_payload=domain.label_payload(r["id"]),
        )
        for r in await repo.label_rows(device_ids, batch_id)
    ]


async def certificate(repo: EquipmentRepository, certificate_id: uuid.UUID) -> Row:
    return found(await repo.certificate(certificate_id), f"certificate {certificate_id}")


async def weee_register(repo: EquipmentRepository, year: int) -> str:
    return csv_formats.weee_csv(await repo.weee_rows(year))


async def stock_and_flow(repo: EquipmentRepository, as_of: date) -> dict[str, Any]:
    return figures.figures(await repo.paths_until(figures.cutoff(as_of)), as_of)
