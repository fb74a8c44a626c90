"""Delivery, follow-ups, returns and disposal, and the count-only declared deliveries, on the
fake unit of work."""

from __future__ import annotations

import uuid
from datetime import date

import pytest
from passerelle_contracts import SYSTEM_ACTOR
from passerelle_contracts.equipment_v1 import DevicesDelivered

from services.equipment.domain import InvalidMove
from services.equipment.handlers import delivery, end_of_life
from services.runtime.errors import Conflict, Forbidden, Invalid, NotFound
from services.runtime.uow import Context
from tests.fakes.equipment import unit_of_work
from tests.unit.equipment.conftest import (
    COORDINATION,
    DONOR,
    HOME_KEY,
    OTHER_DONOR,
    REFURBISHER,
    REFURBISHER_KEY,
    SCHOOL,
    SCHOOL_KEY,
    TODAY,
    World,
    laptop,
    wipe,
)


async def delivered(world: World, *tags: str) -> tuple[list[uuid.UUID], dict[str, object]]:
    """Devices stocked, allocated to the school, handed over and acknowledged."""
    ids = await world.stock(*(laptop(t) for t in tags))
    await world.accepted(SCHOOL, {"laptop": len(ids)})
    await world.allocate()
    handover = await delivery.record_handover(
        world.acting(REFURBISHER_KEY), delivery.RecordHandover(SCHOOL, ids, TODAY)
    )
    ack = await delivery.acknowledge_handover(world.acting(SCHOOL_KEY), delivery.AcknowledgeHandover(handover["id"]))
    return ids, ack


async def test_an_acknowledged_delivery_is_announced_per_donor_and_followed_up_six_months_later(world: World) -> None:
    ids = await world.stock(laptop("A1"), laptop("A2"))
    others = await world.declare(laptop("B1"), donor=OTHER_DONOR)
    await world.at_refurbisher(others)
    await world.wipe(others[0])
    await world.refurbish(others[0])
    request_id = await world.accepted(SCHOOL, {"laptop": 3})
    await world.allocate()
    handover = await delivery.record_handover(
        world.acting(REFURBISHER_KEY), delivery.RecordHandover(SCHOOL, [*ids, *others], TODAY)
    )
    assert world.events("DevicesDelivered") == [], "delivered once the recipient acknowledges"
    correlation = uuid.uuid4()
    ack = await delivery.acknowledge_handover(
        world.acting(SCHOOL_KEY, correlation_id=correlation), delivery.AcknowledgeHandover(handover["id"])
    )
    assert (ack["acknowledged"], ack["next_follow_up"]) == (True, date(2024, 11, 6))
    events = world.events("DevicesDelivered")
    assert [(e.data["donor"], e.data["donor_kind"], e.data["total_devices"]) for e in events] == [
        (DONOR, "regional-public-body", 2),
        (OTHER_DONOR, "regional-administration", 1),
    ]
    assert {(e.subject, e.correlation_id, e.actor) for e in events} == {
        (f"delivery-{handover['id']}", correlation, SCHOOL_KEY)
    }
    assert (events[0].data["recipient_kind"], events[0].data["public"], events[0].data["commune"]) == (
        "secondary-school",
        None,
        "Ixelles",
    )
    assert {world.device(i)["custodian"] for i in [*ids, *others]} == {SCHOOL}
    assert world.repo.requests_[request_id]["status"] == "accepted"
    assert [e.data["milestone"] for e in world.events("BatchMilestoneReached")][-2:] == ["delivered", "delivered"]


async def test_only_the_holder_hands_over_and_only_the_recipient_acknowledges_once(world: World) -> None:
    ids = await world.stock(laptop("A1"))
    await world.accepted(SCHOOL, {"laptop": 1})
    await world.allocate()
    with pytest.raises(Forbidden):
        await delivery.record_handover(world.acting(SCHOOL_KEY), delivery.RecordHandover(SCHOOL, ids, TODAY))
    with pytest.raises(Conflict, match="another recipient"):
        await delivery.record_handover(world.acting(), delivery.RecordHandover("maison-de-repos", ids, TODAY))
    handover = await delivery.record_handover(
        world.acting(REFURBISHER_KEY), delivery.RecordHandover(SCHOOL, ids, TODAY)
    )
    with pytest.raises(Forbidden, match="only athenee-ixelles or the Coordination may"):
        await delivery.acknowledge_handover(world.acting(HOME_KEY), delivery.AcknowledgeHandover(handover["id"]))
    await delivery.acknowledge_handover(world.acting(SCHOOL_KEY), delivery.AcknowledgeHandover(handover["id"]))
    with pytest.raises(Conflict, match="already acknowledged"):
        await delivery.acknowledge_handover(world.acting(), delivery.AcknowledgeHandover(handover["id"]))
    with pytest.raises(NotFound, match="no delivery"):
        await delivery.acknowledge_handover(world.acting(), delivery.AcknowledgeHandover(uuid.uuid4()))
    with pytest.raises(Conflict, match="must be allocated"):
        await delivery.record_handover(world.acting(), delivery.RecordHandover(SCHOOL, ids, TODAY))


async def test_follow_ups_are_sent_once_each_for_the_latest_due_date(world: World) -> None:
    _, ack = await delivered(world, "A1")
    world.clear_events()
    assert await delivery.send_due_follow_ups(world.acting(), delivery.SendFollowUps(date(2024, 11, 5))) == []
    [due] = await delivery.send_due_follow_ups(world.acting(), delivery.SendFollowUps(date(2025, 6, 1)))
    assert (due.data["due_on"], due.data["delivered_on"], due.data["devices"]) == ("2025-05-06", "2024-05-06", 1)
    assert due.subject == f"delivery-{ack['id']}"
    assert await delivery.send_due_follow_ups(world.acting(), delivery.SendFollowUps(date(2025, 6, 2))) == []
    scheduled = unit_of_work(world.store, Context.system())  # as the hourly job runs it
    assert len(await delivery.send_due_follow_ups(scheduled, delivery.SendFollowUps(date(2025, 11, 6)))) == 1
    assert world.events("DeliveryFollowUpDue")[-1].actor == SYSTEM_ACTOR


async def test_a_returned_device_goes_back_to_the_refurbisher_and_must_be_wiped_again(world: World) -> None:
    [device, kept], _ = await delivered(world, "A1", "A2")
    with pytest.raises(Forbidden):
        await end_of_life.return_device(world.acting(HOME_KEY), end_of_life.ReturnDevice(device, REFURBISHER, "cassé"))
    with pytest.raises(Invalid, match="unknown organisation"):
        await end_of_life.return_device(world.acting(SCHOOL_KEY), end_of_life.ReturnDevice(device, "nobody", "cassé"))
    back = await end_of_life.return_device(
        world.acting(SCHOOL_KEY), end_of_life.ReturnDevice(device, REFURBISHER, "cassé")
    )
    assert back == {"device_id": str(device), "allocation": "returned", "custodian": REFURBISHER}
    state = world.device(device)
    assert (state["sanitisation"], state["physical"], state["allocation"]) == ("pending", "to_repair", "returned")
    [event] = world.events("DeviceReturned")
    assert (event.subject, event.data["recipient"], event.data["returned_to"]) == (
        f"device-{device}",
        SCHOOL,
        REFURBISHER,
    )
    with pytest.raises(Conflict, match="only a delivered device is returned"):
        await end_of_life.return_device(world.acting(), end_of_life.ReturnDevice(device, REFURBISHER, "again"))
    await world.refurbish(device, "C")
    assert await world.reads.allocatable_stock(lock=False) == [], "refurbished, but not wiped since its return"
    again = await world.wipe(device)
    assert (again["sanitisation"], again["allocation"]) == ("wiped", "available")
    assert len([c for c in world.repo.certificates if c["device_id"] == device]) == 2
    assert world.device(kept)["allocation"] == "delivered"


async def test_a_device_in_use_cannot_be_disposed_of_and_a_disposal_settles_the_donors_batch(world: World) -> None:
    ids = await world.declare(laptop("A1"), laptop("A2"))
    await world.at_refurbisher(ids)
    await world.wipe(ids[0])
    await world.wipe(ids[1], wipe("m1", "failed"))
    await world.refurbish(ids[0])
    await world.accepted(SCHOOL, {"laptop": 1})
    await world.allocate()
    disposal = end_of_life.DisposeDevice(ids[0], "recupel", date(2024, 9, 12), "recycling", "REC-1")
    with pytest.raises(Conflict, match="return it before disposing of it"):
        await end_of_life.dispose_device(world.acting(), disposal)
    handover = await delivery.record_handover(world.acting(), delivery.RecordHandover(SCHOOL, [ids[0]], TODAY))
    await delivery.acknowledge_handover(world.acting(), delivery.AcknowledgeHandover(handover["id"]))
    failed = end_of_life.DisposeDevice(ids[1], "recupel", date(2024, 9, 12), "destruction", "D-1")
    with pytest.raises(Forbidden):
        await end_of_life.dispose_device(world.acting(SCHOOL_KEY), failed)
    assert (await end_of_life.dispose_device(world.acting(REFURBISHER_KEY), failed))["physical"] == "disposed"
    [event] = world.events("DeviceDisposed")
    assert (event.subject, event.data["recycler"], event.data["donor"]) == (f"device-{ids[1]}", "recupel", DONOR)
    milestones = world.events("BatchMilestoneReached")
    assert (milestones[-1].data["milestone"], milestones[-1].data["delivered"], milestones[-1].data["failed"]) == (
        "delivered",
        1,
        1,
    )
    with pytest.raises(InvalidMove):
        await end_of_life.dispose_device(world.acting(), failed)


def declared_delivery() -> DevicesDelivered:
    return DevicesDelivered(
        delivery_id=str(uuid.uuid4()),
        recipient="asbl-devoirs",
        recipient_kind="pupils-association",
        devices={"laptop": 20, "tablet": 5},
        total_devices=25,
        delivered_on=date(2026, 11, 20),
    )


async def test_a_declared_delivery_is_recorded_once_per_idempotency_key_of_the_callers_organisation(
    world: World,
) -> None:
    body = {"recipient": "asbl-devoirs", "devices": {"laptop": 20, "tablet": 5}}
    first, created = await delivery.declare_delivery(
        world.acting(REFURBISHER_KEY), delivery.DeclareDelivery(declared_delivery(), body, "k-1")
    )
    assert created is True and first["recorded_by"]["organisation"] == REFURBISHER
    [event] = world.events("DevicesDelivered")
    assert (event.subject, event.data["delivery_id"]) == (f"delivery-{first['delivery_id']}", first["delivery_id"])
    again, created = await delivery.declare_delivery(
        world.acting(REFURBISHER_KEY), delivery.DeclareDelivery(declared_delivery(), body, "k-1")
    )
    assert created is False and again["delivery_id"] == first["delivery_id"], "the first reply, nothing recorded again"
    assert len(world.repo.deliveries) == 1 and len(world.events("DevicesDelivered")) == 1
    with pytest.raises(Invalid, match="different request"):
        await delivery.declare_delivery(
            world.acting(REFURBISHER_KEY), delivery.DeclareDelivery(declared_delivery(), {**body, "devices": {}}, "k-1")
        )
    _, created = await delivery.declare_delivery(
        world.acting(COORDINATION), delivery.DeclareDelivery(declared_delivery(), body, "k-1")
    )
    assert created is True, "keys belong to the caller's organisation"
    _, created = await delivery.declare_delivery(world.acting(), delivery.DeclareDelivery(declared_delivery(), body))
    assert created is True and len(world.repo.deliveries) == 3
