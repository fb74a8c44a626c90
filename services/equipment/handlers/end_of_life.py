"""Returns and end of life: a recipient returns a device to a refurbisher (wiped again and
refurbished before it is allocated anew); a device's disposal with a recycler (the WEEE register)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

from services.runtime.errors import Invalid
from services.runtime.inputs import check_happened

from .. import domain, events
from .common import Uow, held_device
from .milestones import announce_milestones


@dataclass(frozen=True)
class ReturnDevice:
    device_id: uuid.UUID
    returned_to: str  # the refurbisher that takes it back
    reason: str


@dataclass(frozen=True)
class DisposeDevice:
    device_id: uuid.UUID
    recycler: str
    disposed_on: date
    method: str
    certificate_reference: str


async def return_device(uow: Uow, command: ReturnDevice) -> dict[str, Any]:
    async with uow:
        device = await held_device(uow, command.device_id, "return this device")
        domain.require_returnable(str(command.device_id), device["allocation"])
        taker = await uow.repo.organisation(command.returned_to)
        if taker is None:
            raise Invalid(f"unknown organisation {command.returned_to}")
        if taker["kind"] != "refurbisher":
            # It must be checked and wiped again: only a refurbisher takes it back.
            raise Invalid(f"{command.returned_to} is a {taker['kind']}, not a refurbisher")
        await uow.repo.return_device(
            command.device_id, device["custodian"], command.returned_to, command.reason, uow.actor
        )
        uow.emit(*events.device_returned(device, command.returned_to, command.reason))
    return {"device_id": str(command.device_id), "allocation": "returned", "custodian": command.returned_to}


async def dispose_device(uow: Uow, command: DisposeDevice) -> dict[str, Any]:
    check_happened(command.disposed_on, "disposed_on")
    async with uow:
        device = await held_device(uow, command.device_id, "dispose of this device")
        domain.require_disposable(str(command.device_id), device["allocation"], device["physical"])
        await uow.repo.dispose(
            command.device_id,
            device["custodian"],
            command.recycler,
            command.disposed_on,
            command.method,
            command.certificate_reference,
            uow.actor,
        )
        uow.emit(
            *events.device_disposed(
                device, command.recycler, command.disposed_on, command.method, command.certificate_reference
            )
        )
        await announce_milestones(uow, device["batch_id"])
    return {"device_id": str(command.device_id), "physical": "disposed"}
