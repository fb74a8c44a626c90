"""The equipment's read model (topic ``passerelle.equipment.v1``): donors' declarations, transfers,
each device's sanitisation and condition, allocations, deliveries, batch milestones and follow-ups.

Every table keeps one row per event (or per fact an event states once, under its own key) with
the moment it happened: the figures (``pages/equipment.py``) are sums and latest states taken at
a date, as the equipment service takes its own. Applying an event again changes nothing (the row
is there already). Requests (``RequestSubmitted``, ``RequestReviewed``) and the transfers'
custody beyond the donor's are not kept: no figure of the page needs them.
"""

from __future__ import annotations

from passerelle_contracts import Envelope
from passerelle_contracts.equipment_v1 import (
    BatchDeclared,
    BatchMilestoneReached,
    DeliveryFollowUpDue,
    DeviceConditionChanged,
    DeviceDisposed,
    DeviceReturned,
    DevicesAllocated,
    DeviceSanitised,
    DevicesDelivered,
    DevicesTransferred,
)

from services.runtime.db import Executor

from . import Projections


async def batch_declared(db: Executor, envelope: Envelope, data: BatchDeclared) -> None:
    await db.execute(
        """INSERT INTO eq_declarations (event_id, batch_id, donor, reference, devices, total, occurred_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (event_id) DO NOTHING""",
        envelope.event_id,
        data.batch_id,
        data.donor,
        data.reference,
        dict(data.devices),
        data.total_devices,
        envelope.occurred_at,
    )


async def devices_transferred(db: Executor, envelope: Envelope, data: DevicesTransferred) -> None:
    await db.execute(
        """INSERT INTO eq_transfers (transfer_id, from_org, to_org, devices, total, batches, occurred_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (transfer_id) DO NOTHING""",
        data.transfer_id,
        data.from_organisation,
        data.to_organisation,
        dict(data.devices),
        data.total_devices,
        list(data.batches),
        envelope.occurred_at,
    )


async def _device_event(
    db: Executor,
    envelope: Envelope,
    device_id: str,
    kind: str,
    *,
    batch_id: str | None = None,
    donor: str | None = None,
    sanitisation: str | None = None,
    physical: str | None = None,
    grade: str | None = None,
) -> None:
    await db.execute(
        """INSERT INTO eq_device_events (event_id, event_type, device_id, batch_id, donor, kind, sanitisation,
                                         physical, grade, occurred_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (event_id) DO NOTHING""",
        envelope.event_id,
        envelope.event_type,
        device_id,
        batch_id,
        donor,
        kind,
        sanitisation,
        physical,
        grade,
        envelope.occurred_at,
    )


async def device_sanitised(db: Executor, envelope: Envelope, data: DeviceSanitised) -> None:
    await _device_event(
        db,
        envelope,
        data.device_id,
        data.kind,
        batch_id=data.batch_id,
        donor=data.donor,
        sanitisation=data.sanitisation,
    )


async def device_condition_changed(db: Executor, envelope: Envelope, data: DeviceConditionChanged) -> None:
    await _device_event(
        db,
        envelope,
        data.device_id,
        data.kind,
        batch_id=data.batch_id,
        donor=data.donor,
        physical=data.physical,
        grade=data.grade,
    )


async def device_returned(db: Executor, envelope: Envelope, data: DeviceReturned) -> None:
    await _device_event(db, envelope, data.device_id, data.kind)


async def device_disposed(db: Executor, envelope: Envelope, data: DeviceDisposed) -> None:
    await _device_event(db, envelope, data.device_id, data.kind, donor=data.donor, physical="disposed")


async def devices_allocated(db: Executor, envelope: Envelope, data: DevicesAllocated) -> None:
    await db.execute(
        """INSERT INTO eq_allocations (allocation_run, request_id, recipient, recipient_kind, devices, total,
                                       occurred_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (allocation_run, request_id) DO NOTHING""",
        data.allocation_run,
        data.request_id,
        data.recipient,
        data.recipient_kind,
        dict(data.devices),
        data.total_devices,
        envelope.occurred_at,
    )


async def devices_delivered(db: Executor, envelope: Envelope, data: DevicesDelivered) -> None:
    # ``beneficiaries`` (a count of people) is left out: the page shows devices and organisations.
    await db.execute(
        """INSERT INTO eq_deliveries (event_id, delivery_id, recipient, recipient_kind, donor, donor_kind, devices,
                                      total, public, commune, delivered_on, occurred_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT (event_id) DO NOTHING""",
        envelope.event_id,
        data.delivery_id,
        data.recipient,
        data.recipient_kind,
        data.donor,
        data.donor_kind,
        dict(data.devices),
        data.total_devices,
        data.public,
        data.commune,
        data.delivered_on,
        envelope.occurred_at,
    )


async def batch_milestone_reached(db: Executor, envelope: Envelope, data: BatchMilestoneReached) -> None:
    await db.execute(
        """INSERT INTO eq_batch_milestones (batch_id, milestone, donor, reference, declared, received, wiped, failed,
                                            delivered, occurred_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
           ON CONFLICT (batch_id, milestone) DO UPDATE SET declared = EXCLUDED.declared, received = EXCLUDED.received,
               wiped = EXCLUDED.wiped, failed = EXCLUDED.failed, delivered = EXCLUDED.delivered,
               occurred_at = EXCLUDED.occurred_at
           WHERE EXCLUDED.occurred_at >= eq_batch_milestones.occurred_at""",
        data.batch_id,
        data.milestone,
        data.donor,
        data.reference,
        data.declared,
        data.received,
        data.wiped,
        data.failed,
        data.delivered,
        envelope.occurred_at,
    )


async def follow_up_due(db: Executor, envelope: Envelope, data: DeliveryFollowUpDue) -> None:
    await db.execute(
        """INSERT INTO eq_follow_ups (delivery_id, due_on, recipient, delivered_on, devices, occurred_at)
           VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (delivery_id, due_on) DO NOTHING""",
        data.delivery_id,
        data.due_on,
        data.recipient,
        data.delivered_on,
        data.devices,
        envelope.occurred_at,
    )


TABLES = (
    "eq_declarations",
    "eq_transfers",
    "eq_device_events",
    "eq_allocations",
    "eq_deliveries",
    "eq_batch_milestones",
    "eq_follow_ups",
)

PROJECTIONS: Projections = {
    "BatchDeclared": (batch_declared,),
    "DevicesTransferred": (devices_transferred,),
    "DeviceSanitised": (device_sanitised,),
    "DeviceConditionChanged": (device_condition_changed,),
    "DeviceReturned": (device_returned,),
    "DeviceDisposed": (device_disposed,),
    "DevicesAllocated": (devices_allocated,),
    "DevicesDelivered": (devices_delivered,),
    "BatchMilestoneReached": (batch_milestone_reached,),
    "DeliveryFollowUpDue": (follow_up_due,),
}
