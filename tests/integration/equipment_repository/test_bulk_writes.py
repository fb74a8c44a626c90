"""The repository's contract, part 3: the set-wise reads and writes of the bulk paths (a wiping
station's log, a workshop's sheet), on the fake and on PostgreSQL: many devices locked at once,
records, states, conditions, history and certificates written in one statement each, with the
same rules as the one-device writes."""

from __future__ import annotations

import hashlib
import uuid
from datetime import date

import asyncpg
import pytest

from tests.integration.equipment_repository.given import (
    COORDINATION,
    REFURBISHER,
    Storage,
    a_row,
    a_wipe,
    accepted_request,
    declare,
    organisations,
    ready,
)

pytestmark = pytest.mark.infra

DESKTOP = (("ssd", 128, "S1"), ("hdd", 500, "W2"))


async def test_devices_are_locked_at_once_and_those_that_do_not_exist_are_left_out(storage: Storage) -> None:
    await organisations(storage)
    _, ids = await declare(storage, a_row("A1"), a_row("A2"), a_row("A3"))
    unknown = uuid.uuid4()
    async with storage.unit_of_work() as uow:
        locked = await uow.repo.lock_devices([ids[2], unknown, ids[0], ids[0]])
    assert sorted(locked) == sorted([ids[0], ids[2]])
    one = await storage.repo.device(ids[0]) or {}
    assert locked[ids[0]] == {k: v for k, v in one.items() if k != "media"}, "the row lock_device gives"


async def test_records_of_many_devices_take_their_place_in_each_history_in_the_order_given(storage: Storage) -> None:
    await organisations(storage)
    _, [desktop, laptop] = await declare(storage, a_row("D1", "desktop", DESKTOP), a_row("L1"))
    async with storage.unit_of_work() as uow:
        await uow.repo.add_sanitisations(desktop, [a_wipe("m1", "failed")], COORDINATION)
        await uow.repo.add_sanitisations_many(
            [
                (laptop, a_wipe("m1")),
                (desktop, a_wipe("m2", "failed")),
                (desktop, a_wipe("m1")),
                (desktop, a_wipe("m2")),
            ],
            COORDINATION,
        )
    counting = await storage.repo.counting_sanitisations([desktop])
    assert [(r["medium_id"], r["result"]) for r in counting] == [
        ("m1", "failed"),
        ("m2", "failed"),
        ("m1", "passed"),
        ("m2", "passed"),
    ]
    assert [r["order"] for r in counting] == sorted(r["order"] for r in counting)
    assert [r["medium_id"] for r in await storage.repo.counting_sanitisations([laptop])] == ["m1"]
    recorded = await storage.repo.recorded_sanitisations([laptop])
    assert (recorded[0]["operator"], recorded[0]["tool"], recorded[0]["passes"]) == ("op-17", "nwipe", 1)


async def test_a_record_of_a_medium_the_device_has_not_refuses_the_whole_write(storage: Storage) -> None:
    await organisations(storage)
    _, [laptop, other] = await declare(storage, a_row("L1"), a_row("L2"))
    with pytest.raises(asyncpg.ForeignKeyViolationError):
        async with storage.unit_of_work() as uow:
            await uow.repo.add_sanitisations_many([(other, a_wipe("m1")), (laptop, a_wipe("m9"))], COORDINATION)
    assert await storage.repo.recorded_sanitisations([laptop, other]) == []


async def test_many_states_are_set_at_once_and_the_database_still_refuses_an_allocated_device_unsanitised(
    storage: Storage,
) -> None:
    await organisations(storage)
    _, [wiped, failed, allocated] = await declare(storage, a_row("A1"), a_row("A2"), a_row("A3"))
    await ready(storage, [allocated])
    request_id = await accepted_request(storage, {"laptop": 1})
    async with storage.unit_of_work() as uow:
        await uow.repo.allocate(uuid.uuid4(), request_id, "2024", [allocated], COORDINATION)
    before = {d: (await storage.repo.device(d) or {})["version"] for d in (wiped, failed)}
    async with storage.unit_of_work() as uow:
        await uow.repo.set_sanitisations([(wiped, "wiped"), (failed, "failed")])
    after = {d: await storage.repo.device(d) or {} for d in (wiped, failed)}
    assert (after[wiped]["sanitisation"], after[failed]["sanitisation"]) == ("wiped", "failed")
    assert all(after[d]["version"] == before[d] + 1 for d in (wiped, failed))
    with pytest.raises(asyncpg.CheckViolationError, match="cannot be allocated while its sanitisation is pending"):
        async with storage.unit_of_work() as uow:
            await uow.repo.set_sanitisations([(wiped, "pending"), (allocated, "pending")])
    assert (await storage.repo.device(wiped) or {})["sanitisation"] == "wiped", "nothing of the refused write stays"


async def test_many_conditions_are_set_at_once_with_the_allocation_and_the_steps_given(storage: Storage) -> None:
    await organisations(storage)
    _, [graded, repaired] = await declare(storage, a_row("A1"), a_row("A2"))
    await ready(storage, [graded])
    versions = {d: (await storage.repo.device(d) or {})["version"] for d in (graded, repaired)}
    async with storage.unit_of_work() as uow:
        await uow.repo.set_conditions([(graded, "refurbished", "A", "available", 1), (repaired, "to_repair", None, "available", 2)])  # fmt: skip
        await uow.repo.set_conditions([])
    rows = {d: await storage.repo.device(d) or {} for d in (graded, repaired)}
    assert (rows[graded]["physical"], rows[graded]["grade"], rows[graded]["version"]) == ("refurbished", "A", versions[graded] + 1)  # fmt: skip
    assert (rows[repaired]["physical"], rows[repaired]["grade"], rows[repaired]["version"]) == ("to_repair", None, versions[repaired] + 2)  # fmt: skip
    assert [d["id"] for d in await storage.repo.allocatable_stock(lock=False)] == [graded]


async def test_history_rows_of_many_devices_are_kept_in_the_order_given_with_who_wrote_them(storage: Storage) -> None:
    await organisations(storage)
    _, [first, second] = await declare(storage, a_row("A1"), a_row("A2"))
    async with storage.unit_of_work() as uow:
        await uow.repo.add_history_many(
            [
                (second, "sanitised", REFURBISHER, {"state": "wiped"}),
                (first, "to_repair", REFURBISHER, {"grade": None}),
                (first, "refurbished", REFURBISHER, {"grade": "B"}),
            ],
            COORDINATION,
        )
    history = await storage.repo.history(first)
    assert [(h["action"], h["custodian"], h["data"]) for h in history[-2:]] == [
        ("to_repair", REFURBISHER, {"grade": None}),
        ("refurbished", REFURBISHER, {"grade": "B"}),
    ]
    assert history[-1]["actor"]["organisation"] == COORDINATION.organisation
    assert (await storage.repo.history(second))[-1]["data"] == {"state": "wiped"}


async def test_certificates_of_many_devices_are_stored_whole_with_their_digest_and_each_once(storage: Storage) -> None:
    await organisations(storage)
    _, [first, second] = await declare(storage, a_row("A1"), a_row("A2"))
    contents = {first: b"%PDF-1.4 first", second: b"%PDF-1.4 second"}
    ids = {first: uuid.uuid4(), second: uuid.uuid4()}
    rows = [(ids[d], d, hashlib.sha256(c).hexdigest(), c, date(2024, 2, 20)) for d, c in contents.items()]
    async with storage.unit_of_work() as uow:
        await uow.repo.add_certificates(rows)
    for device, content in contents.items():
        assert await storage.repo.certificate(ids[device]) == {
            "content": content,
            "sha256": hashlib.sha256(content).hexdigest(),
        }
        [listed] = await storage.repo.certificates_of(device)
        assert (listed["id"], listed["issued_on"]) == (ids[device], date(2024, 2, 20))
    with pytest.raises(asyncpg.UniqueViolationError):
        async with storage.unit_of_work() as uow:
            await uow.repo.add_certificates(rows[:1])
    with pytest.raises(asyncpg.ForeignKeyViolationError):
        async with storage.unit_of_work() as uow:
            await uow.repo.add_certificates([(uuid.uuid4(), uuid.uuid4(), "0" * 64, b"%PDF", date(2024, 2, 20))])
