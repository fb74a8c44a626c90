"""Intake: organisations and donors' batches, on the fake unit of work."""

from __future__ import annotations

import pytest

from services.equipment.handlers import intake
from services.runtime.errors import Forbidden, Invalid
from tests.unit.equipment.conftest import (
    COORDINATION,
    DONOR,
    DONOR_KEY,
    ORGANISATIONS,
    OTHER_DONOR_KEY,
    World,
    laptop,
    screen,
)


async def test_a_donor_declares_its_own_batch_and_it_is_announced_once_as_counts(world: World) -> None:
    rows = [(2, laptop("A1")), (3, laptop("A2")), (4, screen("S1"))]
    report = await intake.declare_batch(world.acting(DONOR_KEY), intake.DeclareBatch(DONOR, "R-1", rows))
    assert (report.created, report.existing, report.errors) == (3, 0, [])
    [event] = world.events("BatchDeclared")
    assert event.subject == f"batch-{report.batch_id}"
    assert event.data == {
        "batch_id": report.batch_id,
        "donor": DONOR,
        "reference": "R-1",
        "devices": {"laptop": 2, "screen": 1},
        "total_devices": 3,
    }
    assert event.actor == DONOR_KEY
    devices = list(world.repo.devices.values())
    assert {d["short_code"][:4] for d in devices} == {"PSR-"}
    assert {d["asset_tag"]: d["sanitisation"] for d in devices} == {"A1": "pending", "A2": "pending", "S1": "wiped"}


async def test_a_batch_declared_again_adds_only_new_devices_and_reports_a_repeated_asset_tag(world: World) -> None:
    await intake.declare_batch(world.acting(), intake.DeclareBatch(DONOR, "R-1", [(2, laptop("A1"))]))
    rows = [(2, laptop("A1")), (3, laptop("A2")), (4, laptop("A2"))]
    report = await intake.declare_batch(world.acting(), intake.DeclareBatch(DONOR, "R-1", rows))
    assert (report.created, report.existing) == (1, 1)
    assert report.errors == [{"line": 4, "column": "asset_tag", "reason": "asset tag A2 already on line 3"}]
    assert len(world.repo.batches) == 1, "the donor's reference names one batch"
    assert [e.data["total_devices"] for e in world.events("BatchDeclared")] == [1, 1]


async def test_a_batch_with_nothing_new_is_not_announced(world: World) -> None:
    await intake.declare_batch(world.acting(), intake.DeclareBatch(DONOR, "R-1", [(2, laptop("A1"))]))
    world.clear_events()
    report = await intake.declare_batch(world.acting(), intake.DeclareBatch(DONOR, "R-1", [(2, laptop("A1"))]))
    assert (report.created, report.existing) == (0, 1)
    assert world.events() == []


async def test_a_donor_may_not_declare_the_devices_of_another_donor(world: World) -> None:
    with pytest.raises(Forbidden, match="may not declare devices for cirb-paradigm"):
        await intake.declare_batch(
            world.acting(OTHER_DONOR_KEY), intake.DeclareBatch(DONOR, "R-1", [(2, laptop("A1"))])
        )
    assert world.repo.devices == {} and world.events() == []


async def test_an_unknown_donor_is_refused_and_nothing_is_kept(world: World) -> None:
    with pytest.raises(Invalid, match="unknown donor organisation nobody"):
        await intake.declare_batch(world.acting(), intake.DeclareBatch("nobody", "R-1", [(2, laptop("A1"))]))
    assert world.repo.batches == {} and world.store.commits == 0


async def test_the_organisations_are_seeded_on_the_first_start_only(world: World) -> None:
    empty = World()
    empty.repo.organisations_.clear()
    assert await intake.seed_organisations(empty.acting(), ORGANISATIONS) is True
    assert (
        await intake.seed_organisations(empty.acting(), [{"code": "x", "name": "X", "kind": "epn", "commune": None}])
        is False
    )
    assert sorted(empty.repo.organisations_) == sorted(o["code"] for o in ORGANISATIONS)


async def test_only_the_coordination_registers_organisations(world: World) -> None:
    command = intake.PutOrganisation("epn-ixelles", "EPN d'Ixelles", "epn", "Ixelles")
    with pytest.raises(Forbidden):
        await intake.put_organisation(world.acting(DONOR_KEY), command)
    assert (await intake.put_organisation(world.acting(COORDINATION), command))["kind"] == "epn"
