"""Custody on the fake unit of work: a transfer moves devices when the receiving side confirms."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from services.equipment.domain import DeviceRow, SanitisationRequired
from services.equipment.handlers import custody, delivery, refurbishing
from services.runtime.errors import Conflict, Forbidden, Invalid, NotFound
from tests.unit.equipment.conftest import (
    DONOR,
    DONOR_KEY,
    OTHER_DONOR,
    OTHER_DONOR_KEY,
    OTHER_REFURBISHER,
    OTHER_REFURBISHER_KEY,
    REFURBISHER,
    REFURBISHER_KEY,
    SCHOOL,
    SCHOOL_KEY,
    TODAY,
    World,
    laptop,
    wipe,
)


async def test_devices_move_when_the_receiver_confirms_and_the_donor_hears_they_were_all_received(world: World) -> None:
    ids = await world.declare(laptop("A1"), laptop("A2"))
    transfer = await custody.propose_transfer(world.acting(DONOR_KEY), custody.ProposeTransfer(REFURBISHER, ids))
    assert {world.device(i)["custodian"] for i in ids} == {DONOR}, "nothing moves before the confirmation"
    correlation = uuid.uuid4()
    confirmed = await custody.confirm_transfer(
        world.acting(REFURBISHER_KEY, correlation_id=correlation), custody.ConfirmTransfer(transfer["id"])
    )
    assert (confirmed["status"], confirmed["devices"]) == ("confirmed", 2)
    assert {world.device(i)["custodian"] for i in ids} == {REFURBISHER}
    [moved] = world.events("DevicesTransferred")
    assert moved.subject == f"transfer-{transfer['id']}"
    assert (moved.data["from_organisation"], moved.data["to_organisation"], moved.data["devices"]) == (
        DONOR,
        REFURBISHER,
        {"laptop": 2},
    )
    [received] = world.events("BatchMilestoneReached")
    assert (received.data["milestone"], received.data["received"], received.data["declared"]) == ("received", 2, 2)
    assert {e.correlation_id for e in (moved, received)} == {correlation}
    assert {e.actor for e in (moved, received)} == {REFURBISHER_KEY}


async def test_only_the_holder_or_the_coordination_hands_devices_over(world: World) -> None:
    ids = await world.declare(laptop("A1"))
    with pytest.raises(Forbidden, match="only cirb-paradigm or the Coordination may"):
        await custody.propose_transfer(world.acting(REFURBISHER_KEY), custody.ProposeTransfer(REFURBISHER, ids))
    assert world.repo.transfers == {}


async def test_a_transfer_is_confirmed_by_the_receiving_side_once(world: World) -> None:
    ids = await world.declare(laptop("A1"))
    transfer = await custody.propose_transfer(world.acting(), custody.ProposeTransfer(REFURBISHER, ids))
    with pytest.raises(Forbidden):
        await custody.confirm_transfer(world.acting(DONOR_KEY), custody.ConfirmTransfer(transfer["id"]))
    await custody.confirm_transfer(world.acting(REFURBISHER_KEY), custody.ConfirmTransfer(transfer["id"]))
    with pytest.raises(Conflict, match="is confirmed"):
        await custody.confirm_transfer(world.acting(REFURBISHER_KEY), custody.ConfirmTransfer(transfer["id"]))
    with pytest.raises(NotFound):
        await custody.confirm_transfer(world.acting(), custody.ConfirmTransfer(uuid.uuid4()))
    assert len(world.events("DevicesTransferred")) == 1


async def test_a_device_is_in_one_waiting_transfer_at_a_time_and_transfers_are_per_holder(world: World) -> None:
    ids = await world.declare(laptop("A1"), laptop("A2"))
    others = await world.declare(laptop("B1"), donor=OTHER_DONOR)
    await custody.propose_transfer(world.acting(), custody.ProposeTransfer(REFURBISHER, ids))
    with pytest.raises(Conflict, match="already in a transfer"):
        await custody.propose_transfer(world.acting(), custody.ProposeTransfer(REFURBISHER, ids[:1]))
    with pytest.raises(Conflict, match="several organisations"):
        await custody.propose_transfer(world.acting(), custody.ProposeTransfer(REFURBISHER, [ids[0], *others]))
    with pytest.raises(Conflict, match="already holds"):
        await custody.propose_transfer(world.acting(), custody.ProposeTransfer(OTHER_DONOR, others))
    with pytest.raises(NotFound):
        await custody.propose_transfer(world.acting(), custody.ProposeTransfer(REFURBISHER, [uuid.uuid4()]))
    with pytest.raises(Invalid, match="unknown organisation"):
        await custody.propose_transfer(world.acting(), custody.ProposeTransfer("nobody", others))


async def test_a_confirmation_is_refused_when_a_device_changed_hands_since_the_proposal(world: World) -> None:
    ids = await world.declare(laptop("A1"), laptop("A2"))
    transfer = await custody.propose_transfer(world.acting(), custody.ProposeTransfer(REFURBISHER, ids))
    world.device(ids[0])["custodian"] = OTHER_DONOR  # as another path might have done meanwhile
    with pytest.raises(Conflict, match="changed custody"):
        await custody.confirm_transfer(world.acting(REFURBISHER_KEY), custody.ConfirmTransfer(transfer["id"]))
    assert world.device(ids[1])["custodian"] == DONOR, "all or nothing"
    assert world.repo.transfers[transfer["id"]]["status"] == "proposed"
    assert world.events("DevicesTransferred") == []


async def test_a_device_whose_wipe_failed_is_not_moved_into_a_recipients_custody(world: World) -> None:
    failed, wiped, bare = await world.declare(laptop("A1"), laptop("A2"), DeviceRow(asset_tag="A3", kind="laptop"))
    await world.at_refurbisher([failed, wiped, bare])
    await world.wipe(failed, wipe("m1", "failed"))
    await world.wipe(wiped)
    refurbisher = world.acting(REFURBISHER_KEY)
    with pytest.raises(SanitisationRequired, match="no passing sanitisation for medium m1"):
        await custody.propose_transfer(refurbisher, custody.ProposeTransfer(SCHOOL, [failed, wiped]))
    with pytest.raises(SanitisationRequired, match="storage media are unknown"):
        await custody.propose_transfer(world.acting(REFURBISHER_KEY), custody.ProposeTransfer(SCHOOL, [bare]))
    assert [t["to_org"] for t in world.repo.transfers.values()] == [REFURBISHER], "only the intake's transfer"

    transfer = await custody.propose_transfer(world.acting(REFURBISHER_KEY), custody.ProposeTransfer(SCHOOL, [wiped]))
    await world.wipe(wiped, wipe("m1", "failed", start=datetime(2024, 3, 1, 9, 0, tzinfo=UTC)))  # failed since
    with pytest.raises(SanitisationRequired):
        await custody.confirm_transfer(world.acting(SCHOOL_KEY), custody.ConfirmTransfer(transfer["id"]))
    assert world.device(wiped)["custodian"] == REFURBISHER
    assert world.events("DevicesTransferred")[-1].data["to_organisation"] == REFURBISHER, "nothing moved to the school"


async def test_a_sanitised_device_may_go_into_a_recipients_custody(world: World) -> None:
    [device] = await world.declare(laptop("A1"))
    await world.at_refurbisher([device])
    await world.wipe(device)
    transfer = await custody.propose_transfer(world.acting(REFURBISHER_KEY), custody.ProposeTransfer(SCHOOL, [device]))
    await custody.confirm_transfer(world.acting(SCHOOL_KEY), custody.ConfirmTransfer(transfer["id"]))
    assert world.device(device)["custodian"] == SCHOOL


async def test_a_proposed_transfer_is_cancelled_by_either_side_and_frees_its_devices(world: World) -> None:
    ids = await world.declare(laptop("A1"))
    transfer = await custody.propose_transfer(world.acting(DONOR_KEY), custody.ProposeTransfer(REFURBISHER, ids))
    with pytest.raises(Forbidden):
        await custody.cancel_transfer(world.acting(OTHER_DONOR_KEY), custody.CancelTransfer(transfer["id"]))
    cancelled = await custody.cancel_transfer(world.acting(REFURBISHER_KEY), custody.CancelTransfer(transfer["id"]))
    assert cancelled["status"] == "cancelled"
    assert world.repo.transfers[transfer["id"]]["cancelled_by"]["organisation"] == REFURBISHER
    with pytest.raises(Conflict, match="is cancelled"):
        await custody.confirm_transfer(world.acting(REFURBISHER_KEY), custody.ConfirmTransfer(transfer["id"]))
    with pytest.raises(Conflict, match="is cancelled"):
        await custody.cancel_transfer(world.acting(DONOR_KEY), custody.CancelTransfer(transfer["id"]))
    again = await custody.propose_transfer(world.acting(DONOR_KEY), custody.ProposeTransfer(REFURBISHER, ids))
    assert again["status"] == "proposed", "the devices are free for another transfer"
    await custody.confirm_transfer(world.acting(REFURBISHER_KEY), custody.ConfirmTransfer(again["id"]))
    with pytest.raises(Conflict, match="is confirmed"):
        await custody.cancel_transfer(world.acting(), custody.CancelTransfer(again["id"]))
    with pytest.raises(NotFound):
        await custody.cancel_transfer(world.acting(), custody.CancelTransfer(uuid.uuid4()))


async def test_devices_allocated_to_a_request_are_not_handed_over_to_another_organisation(world: World) -> None:
    ids = await world.stock(laptop("A1"), laptop("A2"))
    await world.accepted(SCHOOL, {"laptop": 1})
    await world.allocate()
    [allocated] = [i for i in ids if world.device(i)["allocation"] == "allocated"]
    with pytest.raises(Conflict, match=rf"promised to a request: {allocated} \(allocated\)"):
        await custody.propose_transfer(world.acting(REFURBISHER_KEY), custody.ProposeTransfer(OTHER_REFURBISHER, ids))
    with pytest.raises(Conflict, match="promised to a request"):
        await custody.propose_transfer(world.acting(), custody.ProposeTransfer(OTHER_REFURBISHER, [allocated]))
    assert [t["to_org"] for t in world.repo.transfers.values()] == [REFURBISHER], "only the intake's transfer"
    [free] = set(ids) - {allocated}
    moved = await custody.propose_transfer(
        world.acting(REFURBISHER_KEY), custody.ProposeTransfer(OTHER_REFURBISHER, [free])
    )
    assert moved["device_ids"] == [free], "a device in the stock still moves"


async def test_devices_in_a_delivery_waiting_for_its_acknowledgement_are_not_handed_over(world: World) -> None:
    [device] = await world.stock(DeviceRow(asset_tag="A1", kind="laptop", storage=(("ssd", 256, ""),)))
    await world.accepted(SCHOOL, {"laptop": 1})
    await world.allocate()
    handover = await delivery.record_handover(
        world.acting(REFURBISHER_KEY), delivery.RecordHandover(SCHOOL, [device], TODAY)
    )
    # A disk found since takes the device out of its allocation; the delivery stays open until cancelled.
    await refurbishing.record_media(world.acting(REFURBISHER_KEY), refurbishing.RecordMedia(device, [("hdd", 500, "")]))
    assert world.device(device)["allocation"] == "available"
    with pytest.raises(Conflict, match=f"in delivery {handover['id']}, waiting for its acknowledgement"):
        await custody.propose_transfer(
            world.acting(REFURBISHER_KEY), custody.ProposeTransfer(OTHER_REFURBISHER, [device])
        )
    await delivery.cancel_handover(world.acting(REFURBISHER_KEY), delivery.CancelHandover(handover["id"]))
    transfer = await custody.propose_transfer(
        world.acting(REFURBISHER_KEY), custody.ProposeTransfer(OTHER_REFURBISHER, [device])
    )
    assert transfer["status"] == "proposed", "free once the delivery is cancelled"


async def test_a_transfer_is_not_confirmed_when_its_devices_were_allocated_since_the_proposal(world: World) -> None:
    [device] = await world.stock(laptop("A1"))
    transfer = await custody.propose_transfer(
        world.acting(REFURBISHER_KEY), custody.ProposeTransfer(OTHER_REFURBISHER, [device])
    )
    await world.accepted(SCHOOL, {"laptop": 1})
    await world.allocate()
    assert world.device(device)["allocation"] == "allocated"
    with pytest.raises(Conflict, match="promised to a request"):
        await custody.confirm_transfer(world.acting(OTHER_REFURBISHER_KEY), custody.ConfirmTransfer(transfer["id"]))
    assert world.device(device)["custodian"] == REFURBISHER
    assert world.repo.transfers[transfer["id"]]["status"] == "proposed", "either side may cancel it"
