"""Refurbishing on the fake unit of work: the condition, sanitisation per medium with its
certificate, the wiping station's log, and the donors' "sanitised" milestone."""

from __future__ import annotations

import hashlib
import uuid

import pytest

from services.equipment.domain import InvalidMove
from services.equipment.handlers import refurbishing
from services.runtime.errors import Forbidden, Invalid, NotFound
from tests.unit.equipment.conftest import (
    DONOR,
    DONOR_KEY,
    REFURBISHER_KEY,
    World,
    desktop,
    laptop,
    screen,
    wipe,
)


async def test_a_refurbished_device_needs_a_grade_and_follows_the_refurbishing_flow(world: World) -> None:
    [device] = await world.declare(laptop("A1"))
    await world.at_refurbisher([device])
    with pytest.raises(Invalid, match="needs a grade"):
        await refurbishing.change_condition(world.acting(), refurbishing.ChangeCondition(device, "refurbished"))
    done = await world.refurbish(device, "A")
    assert (done["physical"], done["grade"], done["media"][0]["type"]) == ("refurbished", "A", "ssd")
    [event] = world.events("DeviceConditionChanged")
    assert event.subject == f"device-{device}"
    assert [(c["field"], c["old"], c["new"]) for c in event.data["changes"]] == [
        ("physical", "received", "refurbished"),
        ("grade", None, "A"),
    ]
    await refurbishing.change_condition(world.acting(), refurbishing.ChangeCondition(device, "disposed"))
    with pytest.raises(InvalidMove, match="disposed: it cannot become refurbished"):
        await world.refurbish(device, "B")
    assert [h["action"] for h in world.repo.device_history if h["device_id"] == device][-2:] == [
        "refurbished",
        "disposed",
    ]


async def test_a_condition_that_changes_nothing_writes_nothing(world: World) -> None:
    [device] = await world.declare(laptop("A1"))
    await world.at_refurbisher([device])
    await world.refurbish(device, "A")
    before = (len(world.repo.device_history), len(world.events()), world.device(device)["version"])
    again = await world.refurbish(device, "A")
    assert again["grade"] == "A"
    assert (len(world.repo.device_history), len(world.events()), world.device(device)["version"]) == before


async def test_only_the_holder_records_work_on_a_device(world: World) -> None:
    [device] = await world.declare(laptop("A1"))
    await world.at_refurbisher([device])
    with pytest.raises(Forbidden, match="only asbl-refurb or the Coordination may"):
        await refurbishing.record_sanitisation(
            world.acting(DONOR_KEY), refurbishing.RecordSanitisation(device, [wipe()])
        )
    with pytest.raises(NotFound, match="no device"):
        await world.wipe(uuid.uuid4())
    assert world.repo.sanitisations == []


async def test_a_passing_wipe_of_every_medium_issues_a_certificate_whose_digest_travels_on_the_event(
    world: World,
) -> None:
    [device] = await world.declare(desktop("D1"))
    await world.at_refurbisher([device])
    half = await world.wipe(device, wipe("m1"))
    assert half["sanitisation"] == "pending"
    assert world.repo.certificates == []
    done = await world.wipe(device, wipe("m2"))
    assert done["sanitisation"] == "wiped"
    [certificate] = world.repo.certificates
    assert certificate["content"].startswith(b"%PDF")
    assert certificate["sha256"] == hashlib.sha256(certificate["content"]).hexdigest()
    first, second = world.events("DeviceSanitised")
    assert (first.data["sanitisation"], first.data["certificate_id"], first.data["media"]) == ("pending", None, 2)
    assert (second.data["certificate_id"], second.data["certificate_sha256"]) == (
        str(certificate["id"]),
        certificate["sha256"],
    )
    assert [(c["old"], c["new"]) for c in second.data["changes"]] == [("pending", "wiped")]
    assert "op-17" not in second.model_dump_json(), "no person on an event"


async def test_a_warning_is_not_a_pass_until_a_later_record_of_that_medium_passes(world: World) -> None:
    [device] = await world.declare(desktop("D1"))
    await world.at_refurbisher([device])
    assert (await world.wipe(device, wipe("m1"), wipe("m2", "passed_with_warnings")))["sanitisation"] == "failed"
    assert (await world.wipe(device, wipe("m2")))["sanitisation"] == "wiped"
    assert (await world.wipe(device, wipe("m1", "failed")))["sanitisation"] == "failed", "the latest record decides"
    assert len(world.repo.certificates) == 1


async def test_a_record_of_a_medium_the_device_has_not_is_refused_and_nothing_is_kept(world: World) -> None:
    [device] = await world.declare(laptop("A1"))
    await world.at_refurbisher([device])
    with pytest.raises(Invalid, match="has no medium m9; it has m1"):
        await world.wipe(device, wipe("m1"), wipe("m9"))
    assert world.repo.sanitisations == [] and world.events("DeviceSanitised") == []


async def test_the_donor_hears_once_when_every_device_of_its_batch_has_a_result(world: World) -> None:
    ids = await world.declare(laptop("A1"), laptop("A2"), screen("S1"))
    await world.at_refurbisher(ids)
    await world.wipe(ids[0], wipe("m1", "failed"))
    assert [e.data["milestone"] for e in world.events("BatchMilestoneReached")] == ["received"]
    await world.wipe(ids[1])
    [_, sanitised] = world.events("BatchMilestoneReached")
    assert (sanitised.data["milestone"], sanitised.data["wiped"], sanitised.data["failed"]) == ("sanitised", 2, 1)
    assert sanitised.subject == world.events("BatchDeclared")[0].subject
    await world.wipe(ids[0])
    assert len(world.events("BatchMilestoneReached")) == 2, "each milestone once"


async def test_a_wiping_stations_log_is_applied_device_by_device_with_a_report_per_row(world: World) -> None:
    ids = await world.declare(laptop("A1"), desktop("D1"))
    await world.at_refurbisher(ids)
    code = world.device(ids[0])["short_code"]
    row = (
        "{device},{medium},purge,nwipe,0.35,1,full,op-3,2024-02-20T09:00:00+01:00,2024-02-20T10:00:00+01:00,{result},\n"
    )
    text = (
        "device,medium_id,method,tool,tool_version,passes,verification,operator,started_at,ended_at,result,warnings\n"
        + row.format(device=code, medium="m1", result="passed")
        + row.format(device=ids[1], medium="m1", result="passed")
        + row.format(device=ids[1], medium="m9", result="passed")
        + row.format(device="PSR-NONE-XXXX", medium="m1", result="passed")
        + row.format(device=code, medium="m1", result="maybe")
    )
    report = await refurbishing.import_sanitisations(
        world.acting(REFURBISHER_KEY), refurbishing.ImportSanitisations(text)
    )
    assert (report["devices"], report["records"]) == (1, 1)
    assert [(e["line"], e["column"]) for e in report["errors"]] == [
        (3, "device"),
        (4, "device"),
        (5, "device"),
        (6, "result"),
    ]
    assert world.device(ids[0])["sanitisation"] == "wiped"
    assert world.device(ids[1])["sanitisation"] == "pending", "the desktop's rows were refused together"
    empty = await refurbishing.import_sanitisations(world.acting(), refurbishing.ImportSanitisations("device\n"))
    assert (empty["devices"], empty["errors"][0]["line"]) == (0, 1)
    assert world.device(ids[0])["donor"] == DONOR
