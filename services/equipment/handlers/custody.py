"""Custody: a device is held by one organisation at a time; a transfer names both sides and moves
the devices only when the receiving side confirms."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from services.runtime.errors import Conflict, Invalid, NotFound

from .. import domain, events
from .common import Row, Uow, found
from .milestones import announce_milestones


@dataclass(frozen=True)
class ProposeTransfer:
    to: str
    devices: Sequence[uuid.UUID]


@dataclass(frozen=True)
class ConfirmTransfer:
    transfer_id: uuid.UUID


async def propose_transfer(uow: Uow, command: ProposeTransfer) -> Row:
    """The current custodian hands devices over; they move when the receiver confirms."""
    async with uow:
        if await uow.repo.organisation(command.to) is None:
            raise Invalid(f"unknown organisation {command.to}")
        rows = await uow.repo.lock_custody(command.devices)
        if len(rows) != len(set(command.devices)):
            missing = set(command.devices) - {r["id"] for r in rows}
            raise NotFound(f"no devices {', '.join(sorted(str(m) for m in missing))}")
        holders = {r["custodian"] for r in rows}
        if len(holders) != 1:
            raise Conflict(
                f"the devices are held by several organisations ({', '.join(sorted(holders))}): one transfer each"
            )
        holder = holders.pop()
        domain.require_holder(uow.actor, holder, "hand these devices over")
        if holder == command.to:
            raise Conflict(f"{command.to} already holds these devices")
        if await uow.repo.in_pending_transfer(command.devices):
            raise Conflict("some of these devices are already in a transfer waiting for confirmation")
        return await uow.repo.add_transfer(holder, command.to, command.devices, uow.actor)


async def confirm_transfer(uow: Uow, command: ConfirmTransfer) -> Row:
    async with uow:
        transfer = found(await uow.repo.lock_transfer(command.transfer_id), f"transfer {command.transfer_id}")
        domain.require_holder(uow.actor, transfer["to_org"], "confirm this transfer")
        if transfer["status"] != "proposed":
            raise Conflict(f"transfer {command.transfer_id} is {transfer['status']}")
        moved = await uow.repo.move_custody(
            command.transfer_id, transfer["device_ids"], transfer["from_org"], transfer["to_org"], uow.actor
        )  # locks the devices' rows
        if len(moved) != len(transfer["device_ids"]):
            raise Conflict("some devices changed custody since the transfer was proposed")
        uow.emit(*events.devices_transferred(transfer, moved))
        for batch_id in sorted({str(r["batch_id"]) for r in moved}):
            await announce_milestones(uow, uuid.UUID(batch_id))
    return {**transfer, "status": "confirmed", "devices": len(moved)}
