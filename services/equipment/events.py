"""Where the equipment service's facts become contract events (``passerelle.equipment.v1``), each
with its subject: the aggregate it is about, also its Kafka key, so one aggregate's events stay in
order. The unit of work wraps them (``uow.emit(*events.x(...))``). Counts, kinds and organisation
codes only: no person is named on an event (an operator's id stays in the sanitisation records)."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any, NamedTuple

from passerelle_contracts import EventData
from passerelle_contracts.common import DonorKind, FieldChange
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
    RequestReviewed,
    RequestSubmitted,
)

Row = Mapping[str, Any]
# The donor kinds the contract names; the actions service counts regional public bodies'
# donations (action 57: "un don de matériel recyclé des OIP régionaux"), every other donor is
# "other" on the event: community bodies (COCOF, FWB), the Parliament, companies, people.
NAMED_DONOR_KINDS: tuple[DonorKind, ...] = ("regional-administration", "regional-public-body")


def donor_kind(organisation_kind: str) -> DonorKind:
    """The kind a donor has on ``DevicesDelivered``, from its registered organisation kind."""
    for kind in NAMED_DONOR_KINDS:
        if organisation_kind == kind:
            return kind
    return "other"


class Outgoing(NamedTuple):
    event: EventData
    subject: str


def batch(batch_id: uuid.UUID | str) -> str:
    return f"batch-{batch_id}"


def device(device_id: uuid.UUID | str) -> str:
    return f"device-{device_id}"


def transfer(transfer_id: uuid.UUID | str) -> str:
    return f"transfer-{transfer_id}"


def request(request_id: uuid.UUID | str) -> str:
    return f"request-{request_id}"


def delivery(delivery_id: uuid.UUID | str) -> str:
    return f"delivery-{delivery_id}"


def batch_declared(batch_id: uuid.UUID, donor: str, reference: str, kinds: Counter[str]) -> Outgoing:
    data = BatchDeclared(
        batch_id=str(batch_id),
        donor=donor,
        reference=reference,
        devices=dict(kinds),
        total_devices=sum(kinds.values()),
    )
    return Outgoing(data, batch(batch_id))


def devices_transferred(transfer_row: Row, moved: Sequence[Row]) -> Outgoing:
    data = DevicesTransferred(
        transfer_id=str(transfer_row["id"]),
        from_organisation=transfer_row["from_org"],
        to_organisation=transfer_row["to_org"],
        devices=dict(Counter(r["kind"] for r in moved)),
        total_devices=len(moved),
        batches=sorted({str(r["batch_id"]) for r in moved}),
    )
    return Outgoing(data, transfer(transfer_row["id"]))


def condition_changed(device_row: Row, physical: str, grade: str | None, changes: list[FieldChange]) -> Outgoing:
    data = DeviceConditionChanged(
        device_id=str(device_row["id"]),
        batch_id=str(device_row["batch_id"]),
        donor=device_row["donor"],
        kind=device_row["kind"],
        physical=physical,
        grade=grade,
        changes=changes,
    )
    return Outgoing(data, device(device_row["id"]))


def device_sanitised(
    device_row: Row, state: str, media: int, certificate_id: str | None, digest: str | None, changes: list[FieldChange]
) -> Outgoing:
    data = DeviceSanitised(
        device_id=str(device_row["id"]),
        batch_id=str(device_row["batch_id"]),
        donor=device_row["donor"],
        kind=device_row["kind"],
        sanitisation=state,
        media=media,
        certificate_id=certificate_id,
        certificate_sha256=digest,
        changes=changes,
    )
    return Outgoing(data, device(device_row["id"]))


def milestone_reached(batch_row: Row, milestone: str, counts: Row) -> Outgoing:
    data = BatchMilestoneReached(
        batch_id=str(batch_row["id"]),
        donor=batch_row["donor"],
        reference=batch_row["reference"],
        milestone=milestone,
        declared=counts["declared"],
        received=counts["received"],
        wiped=counts["wiped"],
        failed=counts["failed"],
        delivered=counts["delivered"],
    )
    return Outgoing(data, batch(batch_row["id"]))


def request_submitted(row: Row) -> Outgoing:
    data = RequestSubmitted(
        request_id=str(row["id"]),
        recipient=row["recipient"],
        recipient_kind=row["recipient_kind"],
        devices=row["devices"],
        public=row["public"],
        beneficiaries=row["beneficiaries"],
        commune=row["commune"],
    )
    return Outgoing(data, request(row["id"]))


def request_reviewed(row: Row, decision: str, granted: dict[str, int], reason: str) -> Outgoing:
    data = RequestReviewed(
        request_id=str(row["id"]),
        recipient=row["recipient"],
        recipient_kind=row["recipient_kind"],
        decision=decision,
        granted=granted,
        reason=reason,
        changes=[FieldChange(field="status", old="submitted", new=decision)],
    )
    return Outgoing(data, request(row["id"]))


def devices_allocated(
    run_id: uuid.UUID,
    request_id: str,
    recipient: str,
    recipient_kind: str,
    devices: dict[str, int],
    total: int,
    still_waiting: dict[str, int],
) -> Outgoing:
    data = DevicesAllocated(
        allocation_run=str(run_id),
        request_id=request_id,
        recipient=recipient,
        recipient_kind=recipient_kind,
        devices=devices,
        total_devices=total,
        still_waiting=still_waiting,
    )
    return Outgoing(data, request(request_id))


def devices_delivered(handover: Row, group: Row, kinds: Mapping[str, int]) -> Outgoing:
    """One per donor (and public, commune) of a delivery: the actions service counts donations of
    regional public bodies (action 57) and deliveries by recipient kind (29, 30, 46, 47, 52; see
    the README, "What the deliveries count for")."""
    data = DevicesDelivered(
        delivery_id=str(handover["id"]),
        recipient=handover["recipient"],
        recipient_kind=group["recipient_kind"],
        donor=group["donor"],
        donor_kind=donor_kind(group["donor_kind"]),
        devices=dict(kinds),
        total_devices=sum(kinds.values()),
        public=group["public"],
        commune=group["commune"],
        delivered_on=handover["delivered_on"],
    )
    return Outgoing(data, delivery(handover["id"]))


def delivery_declared(data: DevicesDelivered) -> Outgoing:
    """A count-only delivery declared over HTTP (devices not tracked one by one)."""
    return Outgoing(data, delivery(data.delivery_id))


def follow_up_due(handover: Row, due_on: date) -> Outgoing:
    data = DeliveryFollowUpDue(
        delivery_id=str(handover["id"]),
        recipient=handover["recipient"],
        delivered_on=handover["delivered_on"],
        due_on=due_on,
        devices=len(handover["device_ids"]),
    )
    return Outgoing(data, delivery(handover["id"]))


def device_returned(device_row: Row, returned_to: str, reason: str) -> Outgoing:
    data = DeviceReturned(
        device_id=str(device_row["id"]),
        kind=device_row["kind"],
        recipient=device_row["custodian"],
        returned_to=returned_to,
        reason=reason,
    )
    return Outgoing(data, device(device_row["id"]))


def device_disposed(
    device_row: Row, recycler: str, disposed_on: date, method: str, certificate_reference: str
) -> Outgoing:
    data = DeviceDisposed(
        device_id=str(device_row["id"]),
        kind=device_row["kind"],
        donor=device_row["donor"],
        recycler=recycler,
        disposed_on=disposed_on,
        method=method,
        certificate_reference=certificate_reference,
    )
    return Outgoing(data, device(device_row["id"]))
