"""Custody on the fake unit of work: a transfer moves devices when the receiving side confirms."""

from __future__ import annotations

import uuid

import pytest

from services.equipment.handlers import custody
from services.runtime.errors import Conflict, Forbidden, Invalid, NotFound
from tests.unit.equipment.conftest import (
    DONOR,
    DONOR_KEY,
    OTHER_DONOR,
    REFURBISHER,
    REFURBISHER_KEY,
    World,
    laptop,
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
