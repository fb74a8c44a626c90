"""Delivery: the holder hands allocated devices to their recipient, who acknowledges them (they
count as delivered then); six-monthly follow-ups after; and the count-only deliveries declared
over HTTP for devices not tracked one by one."""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from passerelle_contracts import Envelope
from passerelle_contracts.equipment_v1 import DevicesDelivered

from services.runtime.errors import Conflict
from services.runtime.uow import once

from .. import domain, events
from .common import Row, Uow, found
from .milestones import announce_milestones
from .refurbishing import wipe_records


@dataclass(frozen=True)
class RecordHandover:
    recipient: str
    devices: Sequence[uuid.UUID]
    delivered_on: date


@dataclass(frozen=True)
class AcknowledgeHandover:
    handover_id: uuid.UUID


@dataclass(frozen=True)
class SendFollowUps:
    as_of: date


@dataclass(frozen=True)
class DeclareDelivery:
    delivery: DevicesDelivered
    request: Any  # what the caller sent: an Idempotency-Key's repetition must send the same
    idempotency_key: str | None = None


async def require_sanitised(uow: Uow, device_ids: Sequence[uuid.UUID]) -> None:
    """The rule again at delivery, from the records themselves rather than the state column:
    every medium of every device has a passing latest record."""
    media = await uow.repo.media_of(device_ids)
    records: dict[uuid.UUID, list[Row]] = defaultdict(list)  # grouped once: a handover can hold thousands
    for record in await uow.repo.counting_sanitisations(device_ids):
        records[record["device_id"]].append(record)
    for device_id in device_ids:
        domain.require_sanitised(str(device_id), media.get(device_id, []), wipe_records(records[device_id]))


async def record_handover(uow: Uow, command: RecordHandover) -> Row:
    """The holder hands allocated devices to their recipient; they count as delivered once acknowledged."""
    async with uow:
        rows = await uow.repo.lock_allocated(command.devices)
        if len(rows) != len(set(command.devices)):
            raise Conflict("every device handed over must be allocated (and not yet delivered)")
        if {r["recipient"] for r in rows} != {command.recipient}:
            raise Conflict(f"some devices are allocated to another recipient than {command.recipient}")
        for holder in sorted({r["custodian"] for r in rows}):
            domain.require_holder(uow.actor, holder, "hand these devices over")
        await require_sanitised(uow, command.devices)
        return await uow.repo.add_handover(command.recipient, command.devices, command.delivered_on, uow.actor)


async def acknowledge_handover(uow: Uow, command: AcknowledgeHandover) -> Row:
    handover_id = command.handover_id
    async with uow:
        handover = found(await uow.repo.lock_handover(handover_id), f"delivery {handover_id}")
        domain.require_holder(uow.actor, handover["recipient"], "acknowledge this delivery")
        if handover["acknowledged_at"] is not None:
            raise Conflict(f"delivery {handover_id} was already acknowledged")
        ids = list(handover["device_ids"])
        await require_sanitised(uow, ids)
        next_follow_up = domain.add_months(handover["delivered_on"], domain.FOLLOW_UP_MONTHS)
        await uow.repo.deliver(handover_id, handover["recipient"], ids, next_follow_up, uow.actor)  # locks the devices
        # One event per donor (and public, commune) of the delivery.
        grouped: dict[tuple[Any, ...], Counter[str]] = {}
        first: dict[tuple[Any, ...], Row] = {}
        for group in await uow.repo.delivered_groups(handover_id, ids):
            key = (group["donor"], group["donor_kind"], group["recipient_kind"], group["public"], group["commune"])
            grouped.setdefault(key, Counter())[group["kind"]] += group["n"]
            first.setdefault(key, group)
        for key, kinds in grouped.items():
            uow.emit(*events.devices_delivered(handover, first[key], kinds))
        for batch_id in await uow.repo.batches_of(ids):
            await announce_milestones(uow, batch_id)
    return {**handover, "acknowledged": True, "next_follow_up": next_follow_up}


async def send_due_follow_ups(uow: Uow, command: SendFollowUps) -> list[Envelope]:
    """Remind, every six months after a delivery, to check the devices are in use (each once)."""
    sent: list[Envelope] = []
    async with uow:
        for handover in await uow.repo.lock_due_follow_ups(command.as_of):
            due = domain.follow_up_due_on(handover["next_follow_up"], command.as_of)
            sent.append(uow.emit(*events.follow_up_due(handover, due)))
            await uow.repo.set_next_follow_up(handover["id"], domain.add_months(due, domain.FOLLOW_UP_MONTHS))
    return sent


async def declare_delivery(uow: Uow, command: DeclareDelivery) -> tuple[Any, bool]:
    """Record a count-only delivery and announce it; returns (delivery, created). A repetition
    with the same Idempotency-Key gets the first delivery back (see ``runtime.uow.once``)."""

    async def record() -> dict[str, Any]:
        row = await uow.repo.add_delivery(command.delivery, command.idempotency_key, uow.actor)
        uow.emit(*events.delivery_declared(command.delivery))
        return {**row, "delivery_id": str(row["delivery_id"])}

    return await once(uow, "POST /deliveries", command.idempotency_key, command.request, record)
