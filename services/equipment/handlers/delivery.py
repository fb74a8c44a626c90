"""Delivery: the holder hands allocated devices to their recipient, who acknowledges them (they
count as delivered then); six-monthly follow-ups after; and the count-only deliveries declared
over HTTP for devices not tracked one by one."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from passerelle_contracts import Envelope
from passerelle_contracts.equipment_v1 import DevicesDelivered

from services.runtime.errors import Conflict, Forbidden, Invalid
from services.runtime.inputs import BRUSSELS, check_happened
from services.runtime.uow import once

from .. import domain, events
from .common import Row, Uow, found, require_sanitised
from .milestones import announce_milestones

__all__ = [
    "AcknowledgeHandover",
    "CancelHandover",
    "DeclareDelivery",
    "RecordHandover",
    "SendFollowUps",
    "acknowledge_handover",
    "cancel_handover",
    "declare_delivery",
    "record_handover",
    "require_sanitised",
    "send_due_follow_ups",
]


@dataclass(frozen=True)
class RecordHandover:
    recipient: str
    devices: Sequence[uuid.UUID]
    delivered_on: date


@dataclass(frozen=True)
class AcknowledgeHandover:
    handover_id: uuid.UUID


@dataclass(frozen=True)
class CancelHandover:
    handover_id: uuid.UUID


@dataclass(frozen=True)
class SendFollowUps:
    as_of: date


@dataclass(frozen=True)
class DeclareDelivery:
    delivery: DevicesDelivered
    request: Any  # what the caller sent: an Idempotency-Key's repetition must send the same
    idempotency_key: str | None = None


async def record_handover(uow: Uow, command: RecordHandover) -> Row:
    """The holder hands allocated devices to their recipient; they count as delivered once
    acknowledged. A device is in one open handover at a time, and a handover holds the devices of
    one holder (the Coordination may record it for that holder): the one it is acknowledged from."""
    check_happened(command.delivered_on, "delivered_on")
    async with uow:
        rows = await uow.repo.lock_allocated(command.devices)
        if len(rows) != len(set(command.devices)):
            raise Conflict("every device handed over must be allocated (and not yet delivered)")
        if {r["recipient"] for r in rows} != {command.recipient}:
            raise Conflict(f"some devices are allocated to another recipient than {command.recipient}")
        holders = sorted({r["custodian"] for r in rows})
        if len(holders) != 1:
            raise Conflict(f"the devices are held by several organisations ({', '.join(holders)}): one delivery each")
        [holder] = holders
        domain.require_holder(uow.actor, holder, "hand these devices over")
        open_ = sorted({str(r["handover_id"]) for r in rows if r["handover_id"] is not None})
        if open_:
            raise Conflict(
                f"some devices are already in delivery {', '.join(open_)}, waiting for its acknowledgement: "
                "acknowledge or cancel it first"
            )
        intake = await uow.repo.intake_of(command.devices)
        domain.require_delivered_after_intake(
            command.delivered_on, None if intake is None else intake.astimezone(BRUSSELS).date()
        )
        await require_sanitised(uow, command.devices)
        return await uow.repo.add_handover(holder, command.recipient, command.devices, command.delivered_on, uow.actor)


async def acknowledge_handover(uow: Uow, command: AcknowledgeHandover) -> Row:
    handover_id = command.handover_id
    async with uow:
        handover = found(await uow.repo.lock_handover(handover_id), f"delivery {handover_id}")
        domain.require_holder(uow.actor, handover["recipient"], "acknowledge this delivery")
        if handover["acknowledged_at"] is not None:
            raise Conflict(f"delivery {handover_id} was already acknowledged")
        if handover["cancelled_at"] is not None:
            raise Conflict(f"delivery {handover_id} was cancelled")
        ids = list(handover["device_ids"])
        still = set(await uow.repo.lock_handed_over(handover_id))  # locks the devices
        gone = sorted(str(d) for d in set(ids) - still)
        if gone:
            raise Conflict(
                f"delivery {handover_id} is stale: devices {', '.join(gone)} are no longer allocated to "
                f"{handover['recipient']} for this delivery (returned, released or allocated anew): cancel it"
            )
        _require_still_held(handover, await uow.repo.lock_custody(ids))
        await require_sanitised(uow, ids)
        next_follow_up = domain.add_months(handover["delivered_on"], domain.FOLLOW_UP_MONTHS)
        await uow.repo.deliver(handover_id, handover["recipient"], ids, next_follow_up, uow.actor)
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


def _require_still_held(handover: Row, custody: Sequence[Row]) -> None:
    """The recipient takes the devices from the holder that handed them over: not from an
    organisation they went to since (``custody``: ``lock_custody``'s rows)."""
    holder = handover["from_org"]
    if holder is None:
        raise Conflict(
            f"delivery {handover['id']} was recorded before its holder was kept (an older delivery of devices "
            "held by several organisations): cancel it and record it again"
        )
    moved = [f"{r['id']} is held by {r['custodian']} now" for r in custody if r["custodian"] != holder]
    if moved:
        raise Conflict(
            f"delivery {handover['id']} is stale: {', '.join(moved)}, not by {holder} that handed it over: cancel it"
        )


async def cancel_handover(uow: Uow, command: CancelHandover) -> Row:
    """The organisation that recorded a handover, the holder it hands the devices over for, its
    recipient or the Coordination closes it before it is acknowledged: the devices stay allocated,
    free for another handover."""
    handover_id = command.handover_id
    async with uow:
        handover = found(await uow.repo.lock_handover(handover_id), f"delivery {handover_id}")
        actor, recorder = uow.actor, handover["recorded_by"]["organisation"]
        may = sorted({o for o in (recorder, handover["from_org"], handover["recipient"]) if o is not None})
        if actor.role != "coordination" and actor.organisation not in may:
            raise Forbidden(
                f"{actor.organisation} ({actor.role}) may not cancel this delivery: only {', '.join(may)} "
                "or the Coordination may"
            )
        if handover["acknowledged_at"] is not None:
            raise Conflict(f"delivery {handover_id} was already acknowledged: a device comes back by a return")
        if handover["cancelled_at"] is not None:
            raise Conflict(f"delivery {handover_id} was cancelled already")
        cancelled = await uow.repo.cancel_handover(handover_id, actor)
    return {
        "id": cancelled["id"],
        "recipient": cancelled["recipient"],
        "device_ids": cancelled["device_ids"],
        "cancelled": True,
        "cancelled_at": cancelled["cancelled_at"],
    }


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
    with the same Idempotency-Key gets the first delivery back (see ``runtime.uow.once``).

    What the actions service counts (plan indicators 29, 30, 46, 47, 52, 57) is only as good as
    what is declared: the recipient must be registered and of the kind declared, the donor (if
    any) registered, its kind the registry's, and the day one that has happened."""

    async def record() -> dict[str, Any]:
        delivery = await _checked(uow, command.delivery)
        row = await uow.repo.add_delivery(delivery, command.idempotency_key, uow.actor)
        uow.emit(*events.delivery_declared(delivery))
        return {**row, "delivery_id": str(row["delivery_id"])}

    return await once(uow, "POST /deliveries", command.idempotency_key, command.request, record)


async def _checked(uow: Uow, delivery: DevicesDelivered) -> DevicesDelivered:
    """The declared delivery checked against the registry, with the donor's kind as registered."""
    check_happened(delivery.delivered_on, "delivered_on")
    recipient = await uow.repo.organisation(delivery.recipient)
    if recipient is None:
        raise Invalid(f"no recipient organisation {delivery.recipient}: the Coordination registers it first")
    domain.require_recipient(delivery.recipient, recipient["kind"], "only a recipient is delivered to")
    if recipient["kind"] != delivery.recipient_kind:
        raise Invalid(f"{delivery.recipient} is a {recipient['kind']}, not a {delivery.recipient_kind}")
    if delivery.donor is None:
        if delivery.donor_kind is not None:
            raise Invalid("a donor kind needs its donor: name the donor (its kind is the registry's)")
        return delivery
    donor = await uow.repo.organisation(delivery.donor)
    if donor is None:
        raise Invalid(f"no donor organisation {delivery.donor}")
    kind = events.donor_kind(donor["kind"])
    if delivery.donor_kind is not None and delivery.donor_kind != kind:
        raise Invalid(f"{delivery.donor} is a {kind} donor, not {delivery.donor_kind}")
    return delivery.model_copy(update={"donor_kind": kind})
