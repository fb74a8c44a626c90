"""Delivery, follow-ups, returns and disposal, and the count-only declared deliveries, on the
fake unit of work."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

import pytest
from passerelle_contracts import SYSTEM_ACTOR
from passerelle_contracts.equipment_v1 import DevicesDelivered

from services.equipment.domain import DeviceRow, InvalidMove
from services.equipment.handlers import delivery, end_of_life, refurbishing
from services.runtime.errors import Conflict, Forbidden, Invalid, NotFound
from services.runtime.uow import Context
from tests.fakes.equipment import unit_of_work
from tests.unit.equipment.conftest import (
    COCOF,
    COORDINATION,
    DONOR,
    HOME,
    HOME_KEY,
    OTHER_DONOR,
    OTHER_REFURBISHER,
    PUPILS,
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
    again = await world.wipe(device, wipe(start=datetime(2024, 6, 3, 9, 0, tzinfo=UTC)))  # wiped again, later
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


def declared_delivery(**changes: object) -> DevicesDelivered:
    fields: dict[str, object] = {
        "delivery_id": str(uuid.uuid4()),
        "recipient": PUPILS,
        "recipient_kind": "pupils-association",
        "devices": {"laptop": 20, "tablet": 5},
        "total_devices": 25,
        "delivered_on": date(2026, 11, 20),
    }
    return DevicesDelivered.model_validate({**fields, **changes})


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


async def declare(world: World, delivery_: DevicesDelivered) -> dict[str, object]:
    body = delivery_.model_dump(mode="json")
    reply, _ = await delivery.declare_delivery(
        world.acting(REFURBISHER_KEY), delivery.DeclareDelivery(delivery_, body, None)
    )
    return dict(reply)


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"recipient": "nobody"}, "no recipient organisation nobody"),
        ({"recipient": DONOR}, "cirb-paradigm is not a recipient organisation"),
        ({"recipient_kind": "retirement-home"}, "asbl-devoirs is a pupils-association, not a retirement-home"),
        ({"donor": "nobody"}, "no donor organisation nobody"),
        ({"donor": DONOR, "donor_kind": "other"}, "cirb-paradigm is a regional-public-body donor, not other"),
        ({"donor_kind": "regional-public-body"}, "a donor kind needs its donor"),
        ({"delivered_on": date(9999, 12, 31)}, "has not happened yet"),
        ({"delivered_on": date(1999, 12, 31)}, "not plausible"),
    ],
)
async def test_a_declared_delivery_names_a_registered_recipient_of_its_kind_and_a_registered_donor(
    world: World, changes: dict[str, object], reason: str
) -> None:
    with pytest.raises(Invalid, match=reason):
        await declare(world, declared_delivery(**changes))
    assert world.repo.deliveries == {} and world.events() == []


async def test_a_declared_deliverys_donor_kind_is_the_registered_donors(world: World) -> None:
    await declare(world, declared_delivery(donor=DONOR))
    await declare(world, declared_delivery(donor=COCOF))
    public_body, community = world.events("DevicesDelivered")
    assert public_body.data["donor_kind"] == "regional-public-body", "counted for action 57"
    assert community.data["donor_kind"] == "other", "a community body is no regional public body"


async def test_allocated_devices_go_into_one_handover_at_a_time_and_a_handover_can_be_cancelled(world: World) -> None:
    ids = await world.stock(laptop("A1"), laptop("A2"))
    await world.accepted(SCHOOL, {"laptop": 2})
    await world.allocate()
    refurbisher = world.acting(REFURBISHER_KEY)
    first = await delivery.record_handover(refurbisher, delivery.RecordHandover(SCHOOL, ids, TODAY))
    with pytest.raises(Conflict, match=f"already in delivery {first['id']}"):
        await delivery.record_handover(world.acting(REFURBISHER_KEY), delivery.RecordHandover(SCHOOL, ids[1:], TODAY))
    assert list(world.repo.handovers) == [first["id"]]
    with pytest.raises(Forbidden):
        await delivery.cancel_handover(world.acting(HOME_KEY), delivery.CancelHandover(first["id"]))
    cancelled = await delivery.cancel_handover(world.acting(SCHOOL_KEY), delivery.CancelHandover(first["id"]))
    assert cancelled["cancelled"] is True
    with pytest.raises(Conflict, match="was cancelled"):
        await delivery.acknowledge_handover(world.acting(SCHOOL_KEY), delivery.AcknowledgeHandover(first["id"]))
    second = await delivery.record_handover(world.acting(REFURBISHER_KEY), delivery.RecordHandover(SCHOOL, ids, TODAY))
    await delivery.acknowledge_handover(world.acting(SCHOOL_KEY), delivery.AcknowledgeHandover(second["id"]))
    assert {world.device(i)["allocation"] for i in ids} == {"delivered"}
    with pytest.raises(Conflict, match="acknowledged"):
        await delivery.cancel_handover(world.acting(), delivery.CancelHandover(second["id"]))


async def test_a_stale_delivery_is_not_acknowledged_and_marks_nothing_delivered(world: World) -> None:
    [device] = await world.stock(laptop("A1"))
    await world.accepted(SCHOOL, {"laptop": 1})
    await world.allocate()
    stale = await delivery.record_handover(
        world.acting(REFURBISHER_KEY), delivery.RecordHandover(SCHOOL, [device], TODAY)
    )
    # Meanwhile the device went back to the stock (as another path might have done) and to the home.
    [allocation] = [a for a in world.repo.allocations if a["device_id"] == device]
    allocation["status"] = "cancelled"
    world.device(device)["allocation"] = "available"
    await world.accepted(HOME, {"laptop": 1})
    await world.allocate()
    world.clear_events()
    with pytest.raises(Conflict, match="no longer allocated to athenee-ixelles for this delivery"):
        await delivery.acknowledge_handover(world.acting(SCHOOL_KEY), delivery.AcknowledgeHandover(stale["id"]))
    assert (world.device(device)["allocation"], world.device(device)["custodian"]) == ("allocated", REFURBISHER)
    assert [a["status"] for a in world.repo.allocations if a["device_id"] == device] == ["cancelled", "allocated"]
    assert world.events() == []


async def test_a_delivery_dated_before_the_devices_intake_or_after_today_is_refused(world: World) -> None:
    ids = await world.stock(laptop("A1"))
    await world.accepted(SCHOOL, {"laptop": 1})
    await world.allocate()
    with pytest.raises(Invalid, match="before the intake of its devices"):
        await delivery.record_handover(world.acting(), delivery.RecordHandover(SCHOOL, ids, date(2024, 1, 7)))
    with pytest.raises(Invalid, match="has not happened yet"):
        await delivery.record_handover(world.acting(), delivery.RecordHandover(SCHOOL, ids, date(9999, 1, 1)))
    assert world.repo.handovers == {}
    done = await delivery.record_handover(world.acting(), delivery.RecordHandover(SCHOOL, ids, date(2024, 1, 8)))
    assert done["delivered_on"] == date(2024, 1, 8), "the intake's own day is fine"


async def test_a_device_goes_back_to_a_refurbisher_only(world: World) -> None:
    [device], _ = await delivered(world, "A1")
    with pytest.raises(Invalid, match="maison-de-repos is a retirement-home, not a refurbisher"):
        await end_of_life.return_device(world.acting(SCHOOL_KEY), end_of_life.ReturnDevice(device, HOME, "cassé"))
    assert world.device(device)["allocation"] == "delivered"


async def test_a_delivery_is_not_acknowledged_once_its_devices_left_the_holder_that_recorded_it(world: World) -> None:
    ids = await world.stock(laptop("A1"), laptop("A2"))
    await world.accepted(SCHOOL, {"laptop": 2})
    await world.allocate()
    handover = await delivery.record_handover(
        world.acting(REFURBISHER_KEY), delivery.RecordHandover(SCHOOL, ids, TODAY)
    )
    world.device(ids[1])["custodian"] = OTHER_REFURBISHER  # as another path might have done meanwhile
    world.clear_events()
    with pytest.raises(Conflict, match=f"{ids[1]} is held by {OTHER_REFURBISHER} now, not by {REFURBISHER}"):
        await delivery.acknowledge_handover(world.acting(SCHOOL_KEY), delivery.AcknowledgeHandover(handover["id"]))
    assert [world.device(i)["custodian"] for i in ids] == [REFURBISHER, OTHER_REFURBISHER], "nothing moved"
    assert {world.device(i)["allocation"] for i in ids} == {"allocated"}
    assert world.repo.handovers[handover["id"]]["acknowledged_at"] is None
    assert world.events() == []


async def test_the_coordination_records_a_delivery_for_the_holder_and_one_holder_hands_over_at_a_time(
    world: World,
) -> None:
    ids = await world.stock(laptop("A1"), laptop("A2"))
    await world.accepted(SCHOOL, {"laptop": 2})
    await world.allocate()
    world.device(ids[1])["custodian"] = OTHER_REFURBISHER  # two holders
    with pytest.raises(Conflict, match="held by several organisations"):
        await delivery.record_handover(world.acting(), delivery.RecordHandover(SCHOOL, ids, TODAY))
    assert world.repo.handovers == {}
    handover = await delivery.record_handover(world.acting(), delivery.RecordHandover(SCHOOL, ids[:1], TODAY))
    assert handover["from_org"] == REFURBISHER, "the holder hands the devices over, whoever records it"
    await delivery.cancel_handover(world.acting(REFURBISHER_KEY), delivery.CancelHandover(handover["id"]))
    handover = await delivery.record_handover(world.acting(), delivery.RecordHandover(SCHOOL, ids[:1], TODAY))
    await delivery.acknowledge_handover(world.acting(SCHOOL_KEY), delivery.AcknowledgeHandover(handover["id"]))
    assert world.device(ids[0])["custodian"] == SCHOOL


async def test_a_returned_laptop_without_storage_media_on_record_is_inspected_again_before_it_counts_as_wiped(
    world: World,
) -> None:
    # Inspected and found without storage (as the laptops declared so were handed on under the old rule).
    [bare] = await world.declare(DeviceRow(asset_tag="B1", kind="laptop"))
    await world.at_refurbisher([bare])
    await refurbishing.record_media(world.acting(REFURBISHER_KEY), refurbishing.RecordMedia(bare, []))
    await world.refurbish(bare)
    await world.accepted(SCHOOL, {"laptop": 1})
    await world.allocate()
    handover = await delivery.record_handover(world.acting(), delivery.RecordHandover(SCHOOL, [bare], TODAY))
    await delivery.acknowledge_handover(world.acting(SCHOOL_KEY), delivery.AcknowledgeHandover(handover["id"]))
    await end_of_life.return_device(world.acting(SCHOOL_KEY), end_of_life.ReturnDevice(bare, REFURBISHER, "lent"))
    back = world.device(bare)
    assert (back["sanitisation"], back["media_known"]) == ("pending", False), "a disk may have been fitted since"
    await world.refurbish(bare)
    await world.accepted(HOME, {"laptop": 1})
    assert (await world.allocate())["allocations"] == [], "not in the stock before it is inspected"


async def test_a_delivery_whose_holder_is_not_known_is_recorded_again_rather_than_acknowledged(world: World) -> None:
    [device] = await world.stock(laptop("A1"))
    await world.accepted(SCHOOL, {"laptop": 1})
    await world.allocate()
    handover = await delivery.record_handover(world.acting(), delivery.RecordHandover(SCHOOL, [device], TODAY))
    world.repo.handovers[handover["id"]]["from_org"] = None  # as migration 0005 leaves an older one of several holders
    with pytest.raises(Conflict, match="cancel it and record it again"):
        await delivery.acknowledge_handover(world.acting(SCHOOL_KEY), delivery.AcknowledgeHandover(handover["id"]))
    assert world.device(device)["allocation"] == "allocated"
