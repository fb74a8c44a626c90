"""What people read: organisations, devices with their record, requests, caps, documents, the WEEE
register and the figures. Reads take the repository (on the pool) and, but for the public
figures and caps, the reader: the Coordination and operators read everything, any other
organisation what concerns it (``domain.reader_scope``): the devices it gave, those it holds now
and those a transfer or a delivery still open offers it, with their documents; not those it held
before (who had a device next, why it came back, its later certificates are not its business).
A device another organisation may not read is not found, rather than refused: its existence is
not told either."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from passerelle_contracts import Actor

from .. import csv_formats, domain, figures
from ..documents import LabelData
from ..sql import EquipmentRepository
from .common import Row, found


async def devices(
    repo: EquipmentRepository,
    reader: Actor,
    *,
    kind: str | None = None,
    custodian: str | None = None,
    batch: uuid.UUID | None = None,
    physical: str | None = None,
    sanitisation: str | None = None,
    allocation: str | None = None,
    limit: int = 500,
) -> list[Row]:
    """The devices ``reader`` may read, by state, in short code order."""
    return await repo.find_devices(
        kind=kind,
        custodian=custodian,
        batch=batch,
        physical=physical,
        sanitisation=sanitisation,
        allocation=allocation,
        limit=limit,
        visible_to=domain.reader_scope(reader),
    )


async def device_record(repo: EquipmentRepository, device_id: uuid.UUID, reader: Actor) -> Row:
    """A device with its media, history, sanitisation records and certificates."""
    device = found(await repo.device(device_id, visible_to=domain.reader_scope(reader)), f"device {device_id}")
    device["history"] = await repo.history(device_id)
    device["sanitisations"] = await repo.sanitisation_records(device_id)
    device["certificates"] = await repo.certificates_of(device_id)
    return device


async def labels(
    repo: EquipmentRepository,
    reader: Actor,
    device_ids: list[uuid.UUID] | None = None,
    batch_id: uuid.UUID | None = None,
) -> list[LabelData]:
    """The labels of some devices or of a batch's that ``reader`` may read, in short code order."""
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
        for r in await repo.label_rows(device_ids, batch_id, visible_to=domain.reader_scope(reader))
    ]


async def certificate(repo: EquipmentRepository, certificate_id: uuid.UUID, reader: Actor) -> Row:
    row = await repo.certificate(certificate_id, visible_to=domain.reader_scope(reader))
    return found(row, f"certificate {certificate_id}")


async def requests(repo: EquipmentRepository, reader: Actor, status: str | None = None) -> list[Row]:
    """Requests with their justifications: every one for the Coordination and operators, a
    recipient's own for a recipient."""
    return await repo.requests(status, recipient=domain.reader_scope(reader))


async def weee_register(repo: EquipmentRepository, year: int, reader: Actor) -> str:
    return csv_formats.weee_csv(await repo.weee_rows(year, visible_to=domain.reader_scope(reader)))


async def stock_and_flow(repo: EquipmentRepository, as_of: date) -> dict[str, Any]:
    """Public: aggregates only (counts by stage, donor, recipient kind, public and commune)."""
    return figures.figures(await repo.paths_until(figures.cutoff(as_of)), as_of)
