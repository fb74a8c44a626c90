"""What each partner may read of the device record, on the fake unit of work: the Coordination
and operators everything; a donor its own devices and their certificates; any other organisation
the devices it holds now, or is offered by a transfer or a delivery still open, and a recipient its
own requests. An organisation that handed a device on no longer reads it; another organisation's
device is not found, rather than shown."""

from __future__ import annotations

import uuid
from datetime import date

import pytest
from passerelle_contracts import Actor

from services.equipment.handlers import custody, delivery, end_of_life, requests, views
from services.runtime.errors import NotFound
from tests.unit.equipment.conftest import (
    COORDINATION,
    DONOR_KEY,
    HOME,
    HOME_KEY,
    OTHER_DONOR,
    OTHER_DONOR_KEY,
    REFURBISHER,
    REFURBISHER_KEY,
    SCHOOL,
    SCHOOL_KEY,
    TODAY,
    World,
    laptop,
    wipe,
)

OPERATOR = Actor(organisation="paradigm-ops", role="operator", key_id="k-ops")
OTHER_REFURBISHER = Actor(organisation="asbl-other", role="refurbisher", key_id="k-other-refurb")


async def a_season(world: World) -> dict[str, uuid.UUID]:
    """Two laptops of the donor delivered to the school, one failed and disposed of; a device of
    another donor still at that donor; a request of the home."""
    delivered, failed = await world.declare(laptop("A1"), laptop("A2"))
    [elsewhere] = await world.declare(laptop("B1"), donor=OTHER_DONOR)
    await world.at_refurbisher([delivered, failed])
    await world.wipe(delivered)
    await world.wipe(failed, wipe("m1", "failed"))
    await world.refurbish(delivered)
    await world.accepted(SCHOOL, {"laptop": 1})
    await world.allocate()
    handover = await delivery.record_handover(world.acting(), delivery.RecordHandover(SCHOOL, [delivered], TODAY))
    await delivery.acknowledge_handover(world.acting(), delivery.AcknowledgeHandover(handover["id"]))
    disposal = end_of_life.DisposeDevice(failed, "recupel", date(2024, 9, 12), "destruction", "D-1")
    await end_of_life.dispose_device(world.acting(REFURBISHER_KEY), disposal)
    await requests.submit_request(
        world.acting(HOME_KEY), requests.SubmitRequest(HOME, {"tablet": 2}, justification="Résidents isolés")
    )
    return {"delivered": delivered, "failed": failed, "elsewhere": elsewhere}


async def listed(world: World, actor: Actor) -> set[uuid.UUID]:
    return {d["id"] for d in await views.devices(world.reads, actor, limit=100)}


async def test_the_coordination_and_operators_read_everything(world: World) -> None:
    ids = await a_season(world)
    for actor in (COORDINATION, OPERATOR):
        assert await listed(world, actor) == set(ids.values())
        assert (await views.device_record(world.reads, ids["elsewhere"], actor))["donor"] == OTHER_DONOR
        assert len(await views.requests(world.reads, actor)) == 2
    assert len((await views.weee_register(world.reads, 2024, OPERATOR)).splitlines()) == 2


async def test_a_donor_reads_its_own_devices_and_their_certificates_only(world: World) -> None:
    ids = await a_season(world)
    assert await listed(world, DONOR_KEY) == {ids["delivered"], ids["failed"]}
    assert await listed(world, OTHER_DONOR_KEY) == {ids["elsewhere"]}
    record = await views.device_record(world.reads, ids["delivered"], DONOR_KEY)
    [certificate] = record["certificates"]
    assert (await views.certificate(world.reads, certificate["id"], DONOR_KEY))["content"].startswith(b"%PDF")
    with pytest.raises(NotFound):
        await views.certificate(world.reads, certificate["id"], OTHER_DONOR_KEY)
    with pytest.raises(NotFound):
        await views.device_record(world.reads, ids["delivered"], OTHER_DONOR_KEY)
    assert await views.labels(world.reads, OTHER_DONOR_KEY, device_ids=[ids["delivered"]]) == []
    batch = world.device(ids["delivered"])["batch_id"]
    assert await views.labels(world.reads, OTHER_DONOR_KEY, batch_id=batch) == []
    assert len(await views.labels(world.reads, DONOR_KEY, batch_id=batch)) == 2
    assert len((await views.weee_register(world.reads, 2024, DONOR_KEY)).splitlines()) == 2
    assert len((await views.weee_register(world.reads, 2024, OTHER_DONOR_KEY)).splitlines()) == 1, "the header only"
    assert await views.requests(world.reads, DONOR_KEY) == []


async def test_a_refurbisher_reads_the_devices_it_holds_and_not_those_it_handed_on(world: World) -> None:
    ids = await a_season(world)
    assert await listed(world, REFURBISHER_KEY) == {ids["failed"]}, "not the one delivered to the school"
    with pytest.raises(NotFound):
        await views.device_record(world.reads, ids["delivered"], REFURBISHER_KEY)
    assert await listed(world, OTHER_REFURBISHER) == set()
    with pytest.raises(NotFound):
        await views.device_record(world.reads, ids["failed"], OTHER_REFURBISHER)


async def test_a_recipient_reads_what_it_received_and_its_own_requests(world: World) -> None:
    ids = await a_season(world)
    assert await listed(world, SCHOOL_KEY) == {ids["delivered"]}
    assert await listed(world, HOME_KEY) == set()
    with pytest.raises(NotFound):
        await views.device_record(world.reads, ids["delivered"], HOME_KEY)
    [own] = await views.requests(world.reads, HOME_KEY)
    assert (own["recipient"], own["justification"]) == (HOME, "Résidents isolés")
    assert [r["recipient"] for r in await views.requests(world.reads, SCHOOL_KEY)] == [SCHOOL]


async def test_a_recipient_reads_the_devices_offered_to_it_before_it_takes_them(world: World) -> None:
    [device] = await world.stock(laptop("A1"))
    await world.accepted(SCHOOL, {"laptop": 1})
    await world.allocate()
    await delivery.record_handover(world.acting(), delivery.RecordHandover(SCHOOL, [device], TODAY))
    assert await listed(world, SCHOOL_KEY) == {device}, "in a delivery waiting for its acknowledgement"


async def test_a_school_that_returned_a_device_no_longer_reads_it(world: World) -> None:
    ids = await a_season(world)
    await end_of_life.return_device(
        world.acting(SCHOOL_KEY), end_of_life.ReturnDevice(ids["delivered"], REFURBISHER, "Écran cassé")
    )
    assert await listed(world, SCHOOL_KEY) == set()
    with pytest.raises(NotFound):
        await views.device_record(world.reads, ids["delivered"], SCHOOL_KEY)
    assert await views.labels(world.reads, SCHOOL_KEY, device_ids=[ids["delivered"]]) == []
    [certificate] = (await views.device_record(world.reads, ids["delivered"], COORDINATION))["certificates"]
    with pytest.raises(NotFound):
        await views.certificate(world.reads, certificate["id"], SCHOOL_KEY)
    assert await listed(world, REFURBISHER_KEY) == {ids["delivered"], ids["failed"]}, "its holder again"
    assert ids["delivered"] in await listed(world, DONOR_KEY), "its donor always"


async def test_a_transfer_offers_its_devices_to_the_receiver_until_it_is_cancelled(world: World) -> None:
    [device] = await world.stock(laptop("A1"))
    transfer = await custody.propose_transfer(world.acting(REFURBISHER_KEY), custody.ProposeTransfer(SCHOOL, [device]))
    assert await listed(world, SCHOOL_KEY) == {device}
    await custody.cancel_transfer(world.acting(SCHOOL_KEY), custody.CancelTransfer(transfer["id"]))
    assert await listed(world, SCHOOL_KEY) == set()
