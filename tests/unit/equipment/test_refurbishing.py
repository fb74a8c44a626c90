"""Refurbishing on the fake unit of work: the condition, sanitisation per medium with its
certificate, the wiping station's log, and the donors' "sanitised" milestone."""

from __future__ import annotations

import hashlib
import inspect
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import asyncpg
import pytest

from services.equipment import certificates
from services.equipment.domain import DeviceRow, InvalidMove, Sanitisation
from services.equipment.handlers import delivery, refurbishing
from services.runtime.errors import Conflict, Forbidden, Invalid, NotFound
from tests.unit.equipment.conftest import (
    COORDINATION,
    DONOR,
    DONOR_KEY,
    OTHER_DONOR,
    REFURBISHER_KEY,
    SCHOOL,
    TODAY,
    World,
    desktop,
    laptop,
    screen,
    wipe,
)

LOG_HEAD = (
    "device,medium_id,method,tool,tool_version,passes,verification,operator,started_at,ended_at,result,warnings\n"
)
LOG_ROW = "{device},{medium},purge,nwipe,0.35,{passes},full,op-3,2024-02-20T09:00:00+01:00,2024-02-20T10:00:00+01:00,{result},\n"


def log_row(device: object, medium: str = "m1", result: str = "passed", passes: object = 1) -> str:
    return LOG_ROW.format(device=device, medium=medium, result=result, passes=passes)


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


async def test_a_wiping_stations_log_sent_twice_changes_nothing_the_second_time(world: World) -> None:
    ids = await world.declare(laptop("A1"), desktop("D1"))
    await world.at_refurbisher(ids)
    text = LOG_HEAD + log_row(ids[0]) + log_row(ids[1], "m1") + log_row(ids[1], "m2", "failed")
    first = await refurbishing.import_sanitisations(
        world.acting(REFURBISHER_KEY), refurbishing.ImportSanitisations(text)
    )
    assert (first["devices"], first["records"], first["unchanged"], first["errors"]) == (2, 3, 0, [])
    before = (
        len(world.repo.sanitisations),
        len(world.repo.certificates),
        len(world.events()),
        len(world.repo.device_history),
    )
    again = await refurbishing.import_sanitisations(
        world.acting(REFURBISHER_KEY), refurbishing.ImportSanitisations(text)
    )
    assert (again["devices"], again["records"], again["unchanged"], again["errors"]) == (0, 0, 3, [])
    after = (
        len(world.repo.sanitisations),
        len(world.repo.certificates),
        len(world.events()),
        len(world.repo.device_history),
    )
    assert after == before
    assert (world.device(ids[0])["sanitisation"], world.device(ids[1])["sanitisation"]) == ("wiped", "failed")


async def test_a_record_made_before_a_return_sent_again_does_not_count_as_a_new_wipe(world: World) -> None:
    [device] = await world.stock(laptop("A1"))
    await world.repo.return_device(device, SCHOOL, world.device(device)["custodian"], "cassé", COORDINATION)
    assert world.device(device)["sanitisation"] == "pending"
    again = await world.wipe(device)  # the very record of the first wipe, from a cumulative log
    assert again["sanitisation"] == "pending", "an old wipe is not a new one"


async def test_a_wiping_stations_log_is_checked_whole_before_anything_is_applied(world: World) -> None:
    ids = await world.declare(laptop("A1"), laptop("A2"))
    await world.at_refurbisher(ids)
    text = LOG_HEAD + log_row(ids[0]) + log_row(ids[1], passes=3_000_000_000)
    report = await refurbishing.import_sanitisations(
        world.acting(REFURBISHER_KEY), refurbishing.ImportSanitisations(text)
    )
    assert [(e["line"], e["column"]) for e in report["errors"]] == [(3, "passes")]
    assert "from 0 to 100" in report["errors"][0]["reason"]
    assert world.device(ids[1])["sanitisation"] == "pending"


async def test_a_wiping_stations_log_is_applied_whole_or_not_at_all(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = await world.declare(laptop("A1"), laptop("A2"))
    await world.at_refurbisher(ids)
    world.clear_events()
    history = len(world.repo.device_history)

    async def refused(certificates: list[Any]) -> None:  # after the records, states and history were written
        raise asyncpg.DataError("value out of range for type integer")

    monkeypatch.setattr(world.repo, "add_certificates", refused)
    with pytest.raises(asyncpg.DataError):
        await refurbishing.import_sanitisations(
            world.acting(REFURBISHER_KEY),
            refurbishing.ImportSanitisations(LOG_HEAD + log_row(ids[0]) + log_row(ids[1])),
        )
    assert [world.device(i)["sanitisation"] for i in ids] == ["pending", "pending"]
    assert world.repo.sanitisations == [] and world.repo.certificates == [] and world.events() == []
    assert len(world.repo.device_history) == history


def counting(world: World, monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """The repository's methods, counted as the use cases call them (a query, or a few, each)."""
    calls: Counter[str] = Counter()
    for name in dir(world.repo):
        method = getattr(world.repo, name)
        if not name.startswith("_") and inspect.iscoroutinefunction(method):

            def counted(*args: Any, _method: Any = method, _name: str = name, **kwargs: Any) -> Any:
                calls[_name] += 1
                return _method(*args, **kwargs)

            monkeypatch.setattr(world.repo, name, counted)
    return calls


async def test_a_wiping_stations_log_takes_as_many_queries_for_thirty_devices_as_for_three(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = counting(world, monkeypatch)
    monkeypatch.setattr(certificates, "_renderer", certificates.CertificateRenderer(chunk=100))  # one chunk each

    async def queries_for(n: int) -> Counter[str]:
        ids = await world.declare(*(desktop(f"D{n}-{i}") for i in range(n)), reference=f"R-{n}")
        await world.at_refurbisher(ids)
        log = LOG_HEAD + "".join(log_row(i, "m1") + log_row(i, "m2") for i in ids)
        calls.clear()
        report = await refurbishing.import_sanitisations(
            world.acting(REFURBISHER_KEY), refurbishing.ImportSanitisations(log)
        )
        assert (report["devices"], report["records"], report["errors"]) == (n, 2 * n, [])
        return Counter(calls)

    three, thirty = await queries_for(3), await queries_for(30)
    assert three == thirty, "no query per row or per device"
    assert (thirty["lock_devices"], thirty["add_sanitisations_many"], thirty["add_certificates"]) == (1, 1, 1)
    assert thirty["lock_batch"] == 1, "the donor's milestones once for its batch, not once per device"


async def test_each_certificate_of_a_log_is_stored_with_the_digest_its_event_carries(world: World) -> None:
    ids = await world.declare(laptop("A1"), desktop("D1"), laptop("A2"))
    await world.at_refurbisher(ids)
    log = LOG_HEAD + log_row(ids[0]) + log_row(ids[1], "m1") + log_row(ids[1], "m2") + log_row(ids[2], result="failed")
    await refurbishing.import_sanitisations(world.acting(REFURBISHER_KEY), refurbishing.ImportSanitisations(log))
    stored = {c["device_id"]: c for c in world.repo.certificates}
    assert set(stored) == {ids[0], ids[1]}, "a certificate for each device that became sanitised, none for a failure"
    for event in world.events("DeviceSanitised"):
        device = uuid.UUID(event.data["device_id"])
        if device == ids[2]:
            assert (event.data["sanitisation"], event.data["certificate_id"]) == ("failed", None)
            continue
        certificate = stored[device]
        assert (event.data["certificate_id"], event.data["certificate_sha256"]) == (
            str(certificate["id"]),
            hashlib.sha256(certificate["content"]).hexdigest(),
        )
        assert certificate["content"].startswith(b"%PDF")
    history = {h["device_id"]: h["data"] for h in world.repo.device_history if h["action"] == "sanitised"}
    assert history[ids[1]] == {
        "media": ["m1", "m2"],
        "results": ["passed", "passed"],
        "state": "wiped",
        "certificate_id": str(stored[ids[1]]["id"]),
    }


async def test_a_log_over_two_donors_batches_tells_each_donor_once_with_its_whole_batch(world: World) -> None:
    mine = await world.declare(laptop("A1"), laptop("A2"))
    theirs = await world.declare(laptop("B1"), donor=OTHER_DONOR)
    await world.at_refurbisher(mine)
    await world.at_refurbisher(theirs)
    world.clear_events()
    log = LOG_HEAD + "".join(log_row(i) for i in mine + theirs)
    await refurbishing.import_sanitisations(world.acting(REFURBISHER_KEY), refurbishing.ImportSanitisations(log))
    told = [(e.data["donor"], e.data["milestone"], e.data["wiped"]) for e in world.events("BatchMilestoneReached")]
    assert sorted(told) == [(DONOR, "sanitised", 2), (OTHER_DONOR, "sanitised", 1)]
    assert [e.event_type for e in world.events()][-2:] == ["BatchMilestoneReached"] * 2, "after every device's event"


async def test_a_device_declared_without_storage_waits_until_its_media_are_inspected(world: World) -> None:
    bare, display = await world.declare(DeviceRow(asset_tag="B1", kind="laptop"), screen("S1"))
    assert (world.device(bare)["sanitisation"], world.device(display)["sanitisation"]) == ("pending", "wiped")
    await world.at_refurbisher([bare])
    await world.refurbish(bare)
    await world.accepted(SCHOOL, {"laptop": 1})
    assert (await world.allocate())["allocations"] == [], "media unknown: not in the stock"
    found = await refurbishing.record_media(
        world.acting(REFURBISHER_KEY), refurbishing.RecordMedia(bare, [("hdd", 500, "WD-1")])
    )
    assert found["media"] == [{"medium_id": "m1", "type": "hdd", "capacity_gb": 500, "serial": "WD-1"}]
    assert (found["sanitisation"], found["media_known"]) == ("pending", True)
    assert world.repo.device_history[-1]["action"] == "media-inspected"
    assert (await world.wipe(bare))["sanitisation"] == "wiped"
    assert len(world.repo.certificates) == 1


async def test_a_device_inspected_without_storage_is_sanitised_and_a_disk_found_later_is_recorded(world: World) -> None:
    [bare] = await world.declare(DeviceRow(asset_tag="B1", kind="desktop"))
    await world.at_refurbisher([bare])
    with pytest.raises(Forbidden):
        await refurbishing.record_media(world.acting(DONOR_KEY), refurbishing.RecordMedia(bare, []))
    none = await refurbishing.record_media(world.acting(REFURBISHER_KEY), refurbishing.RecordMedia(bare, []))
    assert (none["media"], none["sanitisation"]) == ([], "wiped")
    [event] = world.events("DeviceSanitised")
    assert (event.data["sanitisation"], event.data["media"], event.data["certificate_id"] is not None) == (
        "wiped",
        0,
        True,
    )
    await world.refurbish(bare)
    await world.accepted(SCHOOL, {"desktop": 1})
    await world.allocate()
    assert world.device(bare)["allocation"] == "allocated"
    later = await refurbishing.record_media(
        world.acting(REFURBISHER_KEY), refurbishing.RecordMedia(bare, [("ssd", 128, "")])
    )
    assert (later["sanitisation"], later["allocation"]) == ("pending", "available"), "no longer allocatable"
    assert [m["medium_id"] for m in later["media"]] == ["m1"]
    with pytest.raises(Conflict, match="must be allocated"):
        await delivery.record_handover(world.acting(), delivery.RecordHandover(SCHOOL, [bare], TODAY))
    assert (await world.allocate())["allocations"] == [], "not in the stock before the new disk is wiped"
    await world.wipe(bare)
    again = await world.allocate()
    assert [a["device_ids"] for a in again["allocations"]] == [[str(bare)]]


async def test_media_are_not_recorded_on_a_delivered_device(world: World) -> None:
    [device] = await world.stock(laptop("A1"))
    await world.accepted(SCHOOL, {"laptop": 1})
    await world.allocate()
    handover = await delivery.record_handover(world.acting(), delivery.RecordHandover(SCHOOL, [device], TODAY))
    await delivery.acknowledge_handover(world.acting(), delivery.AcknowledgeHandover(handover["id"]))
    with pytest.raises(Conflict, match="delivered: it must be returned first"):
        await refurbishing.record_media(world.acting(), refurbishing.RecordMedia(device, [("hdd", 500, "")]))


async def test_a_certificate_is_dated_by_the_day_in_brussels(world: World, clock: Callable[[datetime], None]) -> None:
    clock(datetime(2024, 6, 30, 22, 30, tzinfo=UTC))  # 00:30 on 1 July in Brussels
    [device] = await world.declare(laptop("A1"))
    await world.at_refurbisher([device])
    await world.wipe(device)
    [certificate] = world.repo.certificates
    assert certificate["issued_on"] == date(2024, 7, 1)


async def test_a_record_sent_as_json_then_in_a_wiping_stations_log_is_recorded_once(world: World) -> None:
    [device] = await world.declare(laptop("A1"))
    await world.at_refurbisher([device])
    started = datetime(2024, 2, 20, 8, 0, tzinfo=UTC)
    padded = Sanitisation(  # as the JSON API takes it: text around the values is not trimmed by the client
        medium_id=" m1 ",
        method="purge",
        tool=" nwipe ",
        tool_version="0.35 ",
        passes=1,
        verification="full",
        operator=" op-3",
        started_at=started,
        ended_at=started.replace(hour=9),
        result="passed",
        warnings="  ",
    )
    await refurbishing.record_sanitisation(
        world.acting(REFURBISHER_KEY), refurbishing.RecordSanitisation(device, [padded])
    )
    [stored] = world.repo.sanitisations
    assert (stored["medium_id"], stored["tool"], stored["tool_version"], stored["operator"], stored["warnings"]) == (
        "m1",
        "nwipe",
        "0.35",
        "op-3",
        "",
    ), "stored as a wiping station's log gives it"
    report = await refurbishing.import_sanitisations(
        world.acting(REFURBISHER_KEY), refurbishing.ImportSanitisations(LOG_HEAD + log_row(device))
    )
    assert (report["records"], report["unchanged"], report["errors"]) == (0, 1, [])
    assert len(world.repo.sanitisations) == 1 and len(world.repo.certificates) == 1


# --- a workshop's sheet of conditions ----------------------------------------------------------

SHEET_HEAD = "device,physical,grade\n"


async def grade_sheet(world: World, text: str, actor: Any = REFURBISHER_KEY) -> dict[str, Any]:
    return await refurbishing.import_conditions(world.acting(actor), refurbishing.ImportConditions(text))


async def test_a_workshops_sheet_grades_each_device_with_its_history_row_and_event(world: World) -> None:
    ids = await world.declare(laptop("A1"), laptop("A2"), screen("S1"))
    await world.at_refurbisher(ids)
    code = world.device(ids[0])["short_code"]
    report = await grade_sheet(
        world, SHEET_HEAD + f"{code},refurbished,A\n{ids[1]},refurbished,c\n{ids[2]},for_parts,\n"
    )
    assert (report["devices"], report["changed"], report["unchanged"], report["errors"]) == (3, 3, 0, [])
    assert [(world.device(i)["physical"], world.device(i)["grade"]) for i in ids] == [
        ("refurbished", "A"),
        ("refurbished", "C"),
        ("for_parts", None),
    ]
    changed = {e.data["device_id"]: e for e in world.events("DeviceConditionChanged")}
    assert [(c["field"], c["old"], c["new"]) for c in changed[str(ids[0])].data["changes"]] == [
        ("physical", "received", "refurbished"),
        ("grade", None, "A"),
    ]
    assert changed[str(ids[0])].subject == f"device-{ids[0]}"
    assert [h["action"] for h in world.repo.device_history if h["device_id"] == ids[1]][-1] == "refurbished"
    assert world.device(ids[0])["version"] == 2, "declared, transferred, then graded once"


async def test_a_devices_rows_are_its_steps_and_one_the_flow_refuses_refuses_them_all(world: World) -> None:
    repaired, given_up = await world.declare(laptop("A1"), laptop("A2"))
    await world.at_refurbisher([repaired, given_up])
    text = (
        SHEET_HEAD
        + f"{repaired},to_repair,\n{given_up},disposed,\n{repaired},refurbished,B\n{given_up},refurbished,A\n"
    )
    report = await grade_sheet(world, text)
    assert (report["devices"], report["changed"]) == (1, 2)
    assert [(e["line"], e["column"]) for e in report["errors"]] == [(3, "device"), (5, "device")]
    assert "disposed: it cannot become refurbished" in report["errors"][1]["reason"]
    assert (world.device(repaired)["physical"], world.device(repaired)["grade"]) == ("refurbished", "B")
    assert world.device(given_up)["physical"] == "received", "none of its rows applied"
    steps = [e.data["physical"] for e in world.events("DeviceConditionChanged")]
    assert steps == ["to_repair", "refurbished"], "each step its event, in the file's order"


async def test_a_sheets_bad_rows_are_reported_with_their_line_and_column(world: World) -> None:
    [device] = await world.declare(laptop("A1"))
    await world.at_refurbisher([device])
    text = (
        SHEET_HEAD
        + f"{device},refurbished,\n"  # a refurbished device needs a grade
        + f"{device},polished,A\n"
        + f"{device},refurbished,Z\n"
        + ",refurbished,A\n"
        + "PSR-NONE-XXXX,refurbished,A\n"
        + f"{uuid.uuid4()},refurbished,A\n"
    )
    report = await grade_sheet(world, text)
    assert [(e["line"], e["column"]) for e in report["errors"]] == [
        (2, "device"),
        (3, "physical"),
        (4, "grade"),
        (5, "device"),
        (6, "device"),
        (7, "device"),
    ]
    assert "needs a grade" in report["errors"][0]["reason"]
    assert report["errors"][4]["reason"] == "no device PSR-NONE-XXXX"
    assert world.device(device)["physical"] == "received" and world.events("DeviceConditionChanged") == []
    missing = await grade_sheet(world, "device,grade\nX,A\n")
    assert missing["errors"] == [{"line": 1, "column": None, "reason": "missing columns: physical"}]


async def test_only_the_holder_or_the_coordination_grades_from_a_sheet(world: World) -> None:
    [device] = await world.declare(laptop("A1"))
    await world.at_refurbisher([device])
    refused = await grade_sheet(world, SHEET_HEAD + f"{device},refurbished,A\n", DONOR_KEY)
    assert "only asbl-refurb or the Coordination may" in refused["errors"][0]["reason"]
    assert world.device(device)["physical"] == "received"
    done = await grade_sheet(world, SHEET_HEAD + f"{device},refurbished,A\n", COORDINATION)
    assert done["devices"] == 1


async def test_the_same_sheet_twice_changes_nothing_the_second_time(world: World) -> None:
    ids = await world.declare(laptop("A1"), laptop("A2"))
    await world.at_refurbisher(ids)
    text = SHEET_HEAD + "".join(f"{i},refurbished,B\n" for i in ids)
    await grade_sheet(world, text)
    before = (len(world.events()), len(world.repo.device_history), [world.device(i)["version"] for i in ids])
    again = await grade_sheet(world, text)
    assert (again["devices"], again["changed"], again["unchanged"], again["errors"]) == (0, 0, 2, [])
    assert (len(world.events()), len(world.repo.device_history), [world.device(i)["version"] for i in ids]) == before


async def test_a_returned_device_graded_again_from_a_sheet_is_back_in_the_stock(world: World) -> None:
    [device] = await world.stock(laptop("A1"))
    await world.repo.return_device(device, SCHOOL, REFURBISHER_KEY.organisation, "cassé", COORDINATION)
    await world.wipe(device, wipe(start=datetime(2024, 3, 1, 9, 0, tzinfo=UTC)))
    report = await grade_sheet(world, SHEET_HEAD + f"{device},refurbished,A\n{device},to_repair,\n")
    assert report["changed"] == 2
    assert (world.device(device)["physical"], world.device(device)["allocation"]) == ("to_repair", "available"), (
        "refurbished once, as POST /devices/{id}/condition would have done: back in the stock, then to repair"
    )


async def test_a_workshops_sheet_takes_as_many_queries_for_thirty_devices_as_for_three(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = counting(world, monkeypatch)

    async def queries_for(n: int) -> Counter[str]:
        ids = await world.declare(*(laptop(f"L{n}-{i}") for i in range(n)), reference=f"R-{n}")
        await world.at_refurbisher(ids)
        calls.clear()
        report = await grade_sheet(world, SHEET_HEAD + "".join(f"{i},refurbished,B\n" for i in ids))
        assert report["devices"] == n
        return Counter(calls)

    three, thirty = await queries_for(3), await queries_for(30)
    assert three == thirty and thirty["lock_devices"] == 1 and thirty["set_conditions"] == 1
