"""Custody: a device is held by one organisation at a time; a transfer names both sides and moves
the devices only when the receiving side confirms, and either side may cancel it before. A
device goes into a recipient's custody only once it is sanitised (the rule of every path to a
recipient: here, and in the database). A device promised to a request (reserved or allocated) or
in a delivery waiting for its acknowledgement goes to its recipient by that delivery, never by a
transfer: its holder keeps it until then."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from passerelle_contracts.common import RECIPIENT_KINDS

from services.runtime.errors import Conflict, Forbidden, Invalid, NotFound

from .. import domain, events
from .common import Row, Uow, found, require_sanitised
from .milestones import announce_milestones


@dataclass(frozen=True)
class ProposeTransfer:
    to: str
    devices: Sequence[uuid.UUID]


@dataclass(frozen=True)
class ConfirmTransfer:
    transfer_id: uuid.UUID


@dataclass(frozen=True)
class CancelTransfer:
    transfer_id: uuid.UUID


async def _require_sanitised_for(uow: Uow, receiver: Row, device_ids: Sequence[uuid.UUID]) -> None:
    """A recipient takes only sanitised devices, whatever the path."""
    if receiver["kind"] in RECIPIENT_KINDS:
        await require_sanitised(uow, device_ids)


async def _require_free(uow: Uow, rows: Sequence[Row]) -> None:
    """Refuse devices reserved or allocated to a request, or in a delivery still open (``rows``:
    ``lock_custody``'s, the devices locked)."""
    promised = [f"{r['id']} ({r['allocation']})" for r in rows if r["allocation"] in ("reserved", "allocated")]
    if promised:
        raise Conflict(
            f"some devices are promised to a request: {', '.join(promised)}; they go to its recipient by a delivery "
            "(POST /handovers), not by a transfer"
        )
    open_ = await uow.repo.open_handovers([r["id"] for r in rows])
    if open_:
        raise Conflict(
            f"some devices are in delivery {', '.join(str(h) for h in open_)}, waiting for its acknowledgement: "
            "acknowledge or cancel it first"
        )


async def propose_transfer(uow: Uow, command: ProposeTransfer) -> Row:
    """The current custodian hands devices over; they move when the receiver confirms."""
    async with uow:
        receiver = await uow.repo.organisation(command.to)
        if receiver is None:
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
        await _require_free(uow, rows)
        await _require_sanitised_for(uow, receiver, sorted(set(command.devices)))
        return await uow.repo.add_transfer(holder, command.to, command.devices, uow.actor)


async def confirm_transfer(uow: Uow, command: ConfirmTransfer) -> Row:
    async with uow:
        transfer = found(await uow.repo.lock_transfer(command.transfer_id), f"transfer {command.transfer_id}")
        domain.require_holder(uow.actor, transfer["to_org"], "confirm this transfer")
        if transfer["status"] != "proposed":
            raise Conflict(f"transfer {command.transfer_id} is {transfer['status']}")
        receiver = found(await uow.repo.organisation(transfer["to_org"]), f"organisation {transfer['to_org']}")
        rows = await uow.repo.lock_custody(transfer["device_ids"])  # what is checked stays so until commit
        await _require_free(uow, rows)  # again: an allocation run may have taken them since the proposal
        await _require_sanitised_for(uow, receiver, transfer["device_ids"])  # again: a wipe may have failed since
        moved = await uow.repo.move_custody(
            command.transfer_id, transfer["device_ids"], transfer["from_org"], transfer["to_org"], uow.actor
        )  # locks the devices' rows
        if len(moved) != len(transfer["device_ids"]):
            raise Conflict("some devices changed custody since the transfer was proposed")
        uow.emit(*events.devices_transferred(transfer, moved))
        for batch_id in sorted({str(r["batch_id"]) for r in moved}):
            await announce_milestones(uow, uuid.UUID(batch_id))
    return {**transfer, "status": "confirmed", "devices": len(moved)}


async def cancel_transfer(uow: Uow, command: CancelTransfer) -> Row:
    """Either side (or the Coordination) closes a transfer not confirmed yet: nothing moves, and
    its devices may be handed over again."""
    async with uow:
        transfer = found(await uow.repo.lock_transfer(command.transfer_id), f"transfer {command.transfer_id}")
        actor = uow.actor
        if actor.role != "coordination" and actor.organisation not in (transfer["from_org"], transfer["to_org"]):
            raise Forbidden(
                f"{actor.organisation} ({actor.role}) may not cancel this transfer: only {transfer['from_org']}, "
                f"{transfer['to_org']} or the Coordination may"
            )
        if transfer["status"] != "proposed":
            raise Conflict(f"transfer {command.transfer_id} is {transfer['status']}")
        cancelled = await uow.repo.cancel_transfer(command.transfer_id, actor)
    return {k: cancelled[k] for k in ("id", "from_org", "to_org", "device_ids", "status", "cancelled_at")}
