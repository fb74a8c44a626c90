"""What the suite's tests share: the organisations, the rows and the steps that set a storage up."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from passerelle_contracts import Actor

from services.equipment import domain
from services.equipment.domain import DeviceRow, Sanitisation
from services.equipment.handlers.common import Uow
from services.equipment.sql import EquipmentRepository

COORDINATION = Actor(organisation="coordination-inclusion-numerique", role="coordination", key_id="k1")
DONOR, REFURBISHER, SCHOOL = "cirb-paradigm", "asbl-refurb", "athenee-ixelles"
ORGANISATIONS: list[dict[str, Any]] = [
    {"code": DONOR, "name": "Paradigm", "kind": "regional-public-body", "commune": None},
    {"code": REFURBISHER, "name": "Refurb", "kind": "refurbisher", "commune": "Anderlecht"},
    {"code": SCHOOL, "name": "Athénée", "kind": "secondary-school", "commune": "Ixelles"},
]


@dataclass
class Storage:
    """One of the two storages: units of work on it, and its repository outside a transaction."""

    kind: str
    unit_of_work: Callable[[], Uow]
    repo: EquipmentRepository


def a_row(
    tag: str, kind: str = "laptop", storage: tuple[tuple[str, int | None, str], ...] = (("ssd", 256, "S1"),)
) -> DeviceRow:
    return DeviceRow(asset_tag=tag, kind=kind, make="Dell", model="Latitude", storage=storage)


def a_wipe(medium: str, result: str = "passed", method: str = "purge") -> Sanitisation:
    start = datetime(2024, 2, 20, 9, 0, tzinfo=UTC)
    return Sanitisation(
        medium_id=medium,
        method=method,
        tool="nwipe",
        tool_version="0.35",
        passes=1,
        verification="full",
        operator="op-17",
        started_at=start,
        ended_at=start + timedelta(hours=1),
        result=result,
    )


async def organisations(storage: Storage) -> None:
    async with storage.unit_of_work() as uow:
        await uow.repo.add_organisations(ORGANISATIONS)


async def declare(storage: Storage, *rows: DeviceRow, reference: str = "R-1") -> tuple[uuid.UUID, list[uuid.UUID]]:
    devices = [domain.declared(uuid.uuid4(), row) for row in rows]
    async with storage.unit_of_work() as uow:
        batch_id = await uow.repo.upsert_batch(DONOR, reference)
        await uow.repo.add_devices(batch_id, DONOR, reference, devices, COORDINATION)
    return batch_id, [d.id for d in devices]


async def ready(storage: Storage, device_ids: list[uuid.UUID]) -> None:
    """Wiped (every medium m1) and refurbished: in the stock."""
    async with storage.unit_of_work() as uow:
        for device_id in device_ids:
            await uow.repo.add_sanitisations(device_id, [a_wipe("m1")], COORDINATION)
            await uow.repo.set_sanitisation(device_id, "wiped")
            await uow.repo.set_condition(device_id, "refurbished", "B", None)


async def accepted_request(storage: Storage, devices: dict[str, int]) -> uuid.UUID:
    async with storage.unit_of_work() as uow:
        request = await uow.repo.add_request(SCHOOL, "secondary-school", devices, "young-people", 30, "Ixelles", "")
        await uow.repo.set_review(request["id"], "accepted", devices, "", None)
    return cast(uuid.UUID, request["id"])
