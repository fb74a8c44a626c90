"""The equipment repository's contract, run against the fake (tests/fakes/equipment.py) and
against PostgreSQL (services/equipment/sql), so that the use cases' unit tests, which run on the
fake, cannot pass on behaviour the database does not have."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, cast

import asyncpg
import pytest
from passerelle_contracts import Actor
from passerelle_contracts.equipment_v1 import DevicesDelivered

from services.equipment import domain
from services.equipment.app import MIGRATIONS
from services.equipment.domain import DeviceRow, Sanitisation
from services.equipment.handlers.common import Uow
from services.equipment.sql import EquipmentRepository
from services.runtime import db
from services.runtime.testing import FakeStore
from services.runtime.uow import Context, PostgresUnitOfWork
from tests.conftest import CreateDatabase
from tests.fakes.equipment import FakeEquipmentRepository, unit_of_work

pytestmark = pytest.mark.infra

COORDINATION = Actor(organisation="coordination-inclusion-numerique", role="coordination", key_id="k1")
DONOR, REFURBISHER, SCHOOL = "cirb-paradigm", "asbl-refurb", "athenee-ixelles"
ORGANISATIONS: list[dict[str, Any]] = [
    {"code": DONOR, "name": "Paradigm", "kind": "regional-public-body", "commune": None},
    {"code": REFURBISHER, "name": "Refurb", "kind": "refurbisher", "commune": "Anderlecht"},
    {"code": SCHOOL, "name": "Athénée", "kind": "secondary-school", "commune": "Ixelles"},
]


@dataclass
class Storage:
    """One of the two storages: units of work on it, and its repository outside a transaction."""

    kind: str
    unit_of_work: Callable[[], Uow]
    repo: EquipmentRepository


@pytest.fixture(params=["fake", "postgres"])
async def storage(request: pytest.FixtureRequest, create_database: CreateDatabase) -> AsyncIterator[Storage]:
    if request.param == "fake":
        store = FakeStore(FakeEquipmentRepository())
        fake_repo = cast(EquipmentRepository, store.repo)  # answers as the repository: what this suite checks
        yield Storage("fake", lambda: unit_of_work(store, Context(actor=COORDINATION)), fake_repo)
        return
    pool = await db.create_pool(await create_database("equipment_repo"))
    try:
        await db.migrate(pool, {"runtime": db.RUNTIME_MIGRATIONS, "equipment": MIGRATIONS})

        def postgres() -> Uow:
            return PostgresUnitOfWork(
                pool, EquipmentRepository, source="equipment", context=Context(actor=COORDINATION)
            )

        yield Storage("postgres", postgres, EquipmentRepository(pool))
    finally:
        await pool.close()


def a_row(
    tag: str, kind: str = "laptop", storage: tuple[tuple[str, int | None, str], ...] = (("ssd", 256, "S1"),)
) -> DeviceRow:
    return DeviceRow(asset_tag=tag, kind=kind, make="Dell", model="Latitude", storage=storage)


def a_wipe(medium: str, result: str = "passed", method: str = "purge") -> Sanitisation:
    start = datetime(2024, 2, 20, 9, 0, tzinfo=UTC)
    return Sanitisation(
        medium_id=medium,
        method=method,
        tool="nwipe",
        tool_version="0.35",
        passes=1,
        verification="full",
        operator="op-17",
        started_at=start,
        ended_at=start + timedelta(hours=1),
        result=result,
    )


async def organisations(storage: Storage) -> None:
    async with storage.unit_of_work() as uow:
        await uow.repo.add_organisations(ORGANISATIONS)


async def declare(storage: Storage, *rows: DeviceRow, reference: str = "R-1") -> tuple[uuid.UUID, list[uuid.UUID]]:
    devices = [domain.declared(uuid.uuid4(), row) for row in rows]
    async with storage.unit_of_work() as uow:
        batch_id = await uow.repo.upsert_batch(DONOR, reference)
        await uow.repo.add_devices(batch_id, DONOR, reference, devices, COORDINATION)
    return batch_id, [d.id for d in devices]


async def ready(storage: Storage, device_ids: list[uuid.UUID]) -> None:
    """Wiped (every medium m1) and refurbished: in the stock."""
    async with storage.unit_of_work() as uow:
        for device_id in device_ids:
            await uow.repo.add_sanitisations(device_id, [a_wipe("m1")], COORDINATION)
            await uow.repo.set_sanitisation(device_id, "wiped")
            await uow.repo.set_condition(device_id, "refurbished", "B", None)


async def accepted_request(storage: Storage, devices: dict[str, int]) -> uuid.UUID:
    async with storage.unit_of_work() as uow:
        request = await uow.repo.add_request(SCHOOL, "secondary-school", devices, "young-people", 30, "Ixelles", "")
        await uow.repo.set_review(request["id"], "accepted", devices, "", None)
    return cast(uuid.UUID, request["id"])


# --- organisations and intake -----------------------------------------------------------------


async def test_organisations_are_seeded_once_listed_by_code_and_updated(storage: Storage) -> None:
    assert await storage.repo.any_organisation() is False
    await organisations(storage)
    assert await storage.repo.any_organisation() is True
    assert [o["code"] for o in await storage.repo.organisations()] == sorted(o["code"] for o in ORGANISATIONS)
    async with storage.unit_of_work() as uow:
        updated = await uow.repo.put_organisation(SCHOOL, "Athénée royal", "secondary-school", "Ixelles")
    assert updated == {"code": SCHOOL, "name": "Athénée royal", "kind": "secondary-school", "commune": "Ixelles"}
    assert await storage.repo.organisation(SCHOOL) == updated
    assert await storage.repo.organisation("nobody") is None


async def test_a_batch_is_one_per_donor_and_reference_and_its_devices_come_with_media_and_history(
    storage: Storage,
) -> None:
    await organisations(storage)
    batch_id, [laptop, screen] = await declare(
        storage, a_row("A1", storage=(("ssd", 256, "S1"), ("hdd", 500, ""))), a_row("A2", "screen", ())
    )
    async with storage.unit_of_work() as uow:
        assert await uow.repo.upsert_batch(DONOR, "R-1") == batch_id
        assert await uow.repo.upsert_batch(DONOR, "R-2") != batch_id
    assert await storage.repo.known_asset_tags(DONOR, ["A1", "A2", "A3"]) == {"A1", "A2"}
    device = await storage.repo.device(laptop)
    assert device is not None
    assert (device["custodian"], device["physical"], device["sanitisation"], device["allocation"]) == (
        DONOR,
        "received",
        "pending",
        "available",
    )
    assert device["media"] == [
        {"medium_id": "m1", "type": "ssd", "capacity_gb": 256, "serial": "S1"},
        {"medium_id": "m2", "type": "hdd", "capacity_gb": 500, "serial": ""},
    ]
    assert (await storage.repo.device(screen) or {})["sanitisation"] == "wiped", "nothing to wipe on a screen"
    async with storage.unit_of_work() as uow:
        locked = await uow.repo.lock_device(laptop)
        assert locked == {k: v for k, v in device.items() if k != "media"}, "the row without its media"
        assert await uow.repo.lock_device(uuid.uuid4()) is None
        await uow.repo.add_history(laptop, "to_repair", COORDINATION, DONOR, {"grade": None})
    declared, repair = await storage.repo.history(laptop)
    assert (declared["action"], declared["custodian"], declared["data"]) == (
        "declared",
        DONOR,
        {"batch_id": str(batch_id), "reference": "R-1"},
    )
    assert (repair["action"], repair["actor"], repair["data"]) == (
        "to_repair",
        COORDINATION.model_dump(mode="json"),
        {"grade": None},
    )
    assert await storage.repo.device(uuid.uuid4()) is None
    with pytest.raises(asyncpg.UniqueViolationError):
        await declare(storage, a_row("A1"))


async def test_devices_are_found_by_state_in_short_code_order_and_by_their_code(storage: Storage) -> None:
    await organisations(storage)
    batch_id, ids = await declare(storage, a_row("A1"), a_row("A2", "tablet"), a_row("A3"))
    laptops = await storage.repo.find_devices(kind="laptop", custodian=DONOR, batch=batch_id)
    assert sorted(d["id"] for d in laptops) == sorted([ids[0], ids[2]])
    assert [d["short_code"] for d in laptops] == sorted(d["short_code"] for d in laptops)
    assert len(await storage.repo.find_devices(limit=2)) == 2
    assert await storage.repo.find_devices(sanitisation="wiped") == []
    codes = {d["short_code"]: d["id"] for d in await storage.repo.find_devices()}
    assert await storage.repo.device_ids_by_code([*codes, "PSR-NONE-XXXX"]) == codes
    labels = await storage.repo.label_rows(None, batch_id)
    assert [r["id"] for r in labels] == [codes[c] for c in sorted(codes)]
    assert [r["id"] for r in await storage.repo.label_rows([ids[1]], None)] == [ids[1]]


# --- sanitisation -----------------------------------------------------------------------------


async def test_the_records_that_count_come_in_history_order_with_their_medium_until_the_device_is_returned(
    storage: Storage,
) -> None:
    await organisations(storage)
    _, [desktop, other] = await declare(
        storage, a_row("A1", "desktop", (("ssd", 128, "S1"), ("hdd", 500, "W2"))), a_row("A2")
    )
    assert await storage.repo.media_of([desktop, other, uuid.uuid4()]) == {desktop: ["m1", "m2"], other: ["m1"]}
    async with storage.unit_of_work() as uow:
        await uow.repo.add_sanitisations(desktop, [a_wipe("m2", "failed"), a_wipe("m1")], COORDINATION)
        await uow.repo.add_sanitisations(desktop, [a_wipe("m2")], COORDINATION)
        await uow.repo.add_sanitisations(other, [a_wipe("m1", "failed")], COORDINATION)
    counting = await storage.repo.counting_sanitisations([desktop])
    assert [(r["medium_id"], r["result"]) for r in counting] == [("m2", "failed"), ("m1", "passed"), ("m2", "passed")]
    assert [r["order"] for r in counting] == sorted(r["order"] for r in counting)
    assert (counting[0]["medium_type"], counting[0]["capacity_gb"], counting[0]["medium_serial"]) == ("hdd", 500, "W2")
    assert (counting[0]["operator"], counting[0]["tool"], counting[0]["started_at"]) == (
        "op-17",
        "nwipe",
        datetime(2024, 2, 20, 9, 0, tzinfo=UTC),
    )
    assert {r["device_id"] for r in await storage.repo.counting_sanitisations([desktop, other])} == {desktop, other}
    assert len(await storage.repo.sanitisation_records(desktop)) == 3
    with pytest.raises(asyncpg.ForeignKeyViolationError):
        async with storage.unit_of_work() as uow:
            await uow.repo.add_sanitisations(desktop, [a_wipe("m9")], COORDINATION)

    async with storage.unit_of_work() as uow:
        await uow.repo.return_device(desktop, DONOR, REFURBISHER, "broken", COORDINATION)
    assert await storage.repo.counting_sanitisations([desktop]) == [], "a returned device must be wiped again"
    assert len(await storage.repo.sanitisation_records(desktop)) == 3, "the old records stay for people to read"
    returned = await storage.repo.device(desktop) or {}
    assert (returned["sanitisation"], returned["physical"], returned["custodian"]) == (
        "pending",
        "to_repair",
        REFURBISHER,
    )
    async with storage.unit_of_work() as uow:
        await uow.repo.add_sanitisations(desktop, [a_wipe("m1")], COORDINATION)
    assert [r["medium_id"] for r in await storage.repo.counting_sanitisations([desktop])] == ["m1"]


async def test_the_database_refuses_to_allocate_or_deliver_a_device_not_fully_sanitised(storage: Storage) -> None:
    await organisations(storage)
    _, [wiped, pending] = await declare(storage, a_row("A1"), a_row("A2"))
    await ready(storage, [wiped])
    request_id = await accepted_request(storage, {"laptop": 2})
    with pytest.raises(asyncpg.CheckViolationError, match="cannot be allocated while its sanitisation is pending"):
        async with storage.unit_of_work() as uow:
            await uow.repo.allocate(uuid.uuid4(), request_id, "2024", [wiped, pending], COORDINATION)
    assert await storage.repo.allocated_per_request() == {}, "nothing of the refused run stays"
    assert (await storage.repo.device(wiped) or {})["allocation"] == "available"
    async with storage.unit_of_work() as uow:
        await uow.repo.allocate(uuid.uuid4(), request_id, "2024", [wiped], COORDINATION)
    with pytest.raises(asyncpg.UniqueViolationError):
        async with storage.unit_of_work() as uow:
            await uow.repo.allocate(uuid.uuid4(), request_id, "2024", [wiped], COORDINATION)


async def test_a_returned_device_refurbished_again_is_back_in_the_stock(storage: Storage) -> None:
    await organisations(storage)
    _, [device] = await declare(storage, a_row("A1"))
    await ready(storage, [device])
    async with storage.unit_of_work() as uow:
        await uow.repo.set_condition(device, "refurbished", "A", {"ram_gb": 16})
    assert (await storage.repo.device(device) or {})["final_spec"] == {"ram_gb": 16}
    async with storage.unit_of_work() as uow:
        await uow.repo.set_condition(device, "to_repair", "A", None)
    assert (await storage.repo.device(device) or {})["final_spec"] == {"ram_gb": 16}, "kept when not given"
    assert [d["id"] for d in await storage.repo.allocatable_stock(lock=False)] == []
    async with storage.unit_of_work() as uow:
        await uow.repo.set_condition(device, "refurbished", "C", None)
    assert [d["id"] for d in await storage.repo.allocatable_stock(lock=False)] == [device]


# --- custody and milestones -------------------------------------------------------------------


async def test_custody_moves_only_the_devices_still_held_and_the_transfer_is_confirmed(storage: Storage) -> None:
    await organisations(storage)
    batch_id, ids = await declare(storage, a_row("A1"), a_row("A2", "tablet"))
    async with storage.unit_of_work() as uow:
        assert await uow.repo.lock_custody([*ids, uuid.uuid4()]) == [{"id": i, "custodian": DONOR} for i in sorted(ids)]
        transfer = await uow.repo.add_transfer(DONOR, REFURBISHER, [ids[1], ids[0], ids[1]], COORDINATION)
    assert set(transfer) == {"id", "from_org", "to_org", "device_ids", "status", "proposed_at"}
    assert (transfer["status"], transfer["device_ids"]) == ("proposed", sorted(ids))
    assert await storage.repo.in_pending_transfer([ids[0]]) is True
    async with storage.unit_of_work() as uow:
        locked = await uow.repo.lock_transfer(transfer["id"])
        assert locked is not None and locked["proposed_by"] == COORDINATION.model_dump(mode="json")
        moved = await uow.repo.move_custody(transfer["id"], locked["device_ids"], DONOR, REFURBISHER, COORDINATION)
        assert sorted((m["id"], m["kind"], m["batch_id"]) for m in moved) == sorted(
            [(ids[0], "laptop", batch_id), (ids[1], "tablet", batch_id)]
        )
        assert await uow.repo.move_custody(transfer["id"], ids, DONOR, REFURBISHER, COORDINATION) == [], (
            "held elsewhere now"
        )
    confirmed = await storage.repo.lock_transfer(transfer["id"]) or {}
    assert confirmed["status"] == "confirmed" and confirmed["confirmed_at"] is not None
    assert await storage.repo.in_pending_transfer(ids) is False
    assert [h["action"] for h in await storage.repo.history(ids[0])] == ["declared", "transferred"]
    assert await storage.repo.lock_transfer(uuid.uuid4()) is None


async def test_a_batch_counts_its_devices_and_each_milestone_is_marked(storage: Storage) -> None:
    await organisations(storage)
    batch_id, ids = await declare(storage, a_row("A1"), a_row("A2"), a_row("A3", "screen", ()))
    assert await storage.repo.batch_counts(batch_id) == {
        "declared": 3,
        "received": 0,
        "wiped": 1,
        "failed": 0,
        "delivered": 0,
        "settled": 0,
    }
    async with storage.unit_of_work() as uow:
        await uow.repo.set_sanitisation(ids[0], "failed")
        await uow.repo.dispose(ids[0], DONOR, "recycler", date(2024, 6, 1), "destruction", "D-1", COORDINATION)
        await uow.repo.mark_announced(batch_id, "sanitised")
    counts = await storage.repo.batch_counts(batch_id)
    assert (counts["failed"], counts["settled"]) == (1, 1)
    batch = await storage.repo.lock_batch(batch_id) or {}
    assert (batch["donor"], batch["reference"]) == (DONOR, "R-1")
    assert batch["sanitised_announced_at"] is not None
    assert batch["received_announced_at"] is None and batch["delivered_announced_at"] is None
    assert await storage.repo.batches_of([*ids, uuid.uuid4()]) == [batch_id]


# --- redistribution ---------------------------------------------------------------------------


async def test_requests_are_reviewed_and_listed_with_what_they_hold_and_caps_are_per_period(storage: Storage) -> None:
    await organisations(storage)
    async with storage.unit_of_work() as uow:
        request = await uow.repo.add_request(
            SCHOOL, "secondary-school", {"laptop": 3}, "young-people", 90, "Ixelles", "For the computer room"
        )
    assert (request["status"], request["granted"], request["priority"], request["reviewed_at"]) == (
        "submitted",
        {},
        0,
        None,
    )
    assert set(request) == {
        "id",
        "recipient",
        "recipient_kind",
        "devices",
        "public",
        "beneficiaries",
        "commune",
        "justification",
        "priority",
        "status",
        "granted",
        "reason",
        "submitted_at",
        "reviewed_at",
    }
    async with storage.unit_of_work() as uow:
        assert (await uow.repo.lock_request(request["id"]) or {})["devices"] == {"laptop": 3}
        reviewed = await uow.repo.set_review(request["id"], "partially_accepted", {"laptop": 2}, "", 3)
    assert (reviewed["status"], reviewed["granted"], reviewed["priority"]) == ("partially_accepted", {"laptop": 2}, 3)
    async with storage.unit_of_work() as uow:
        assert (await uow.repo.set_review(request["id"], "partially_accepted", {"laptop": 2}, "", None))[
            "priority"
        ] == 3
    assert [r["id"] for r in await storage.repo.accepted_requests()] == [request["id"]]
    [listed] = await storage.repo.requests("partially_accepted")
    assert listed["allocated"] == 0
    assert await storage.repo.requests("refused") == []
    async with storage.unit_of_work() as uow:
        await uow.repo.put_cap("2024", "secondary-school", "laptop", 10)
        await uow.repo.put_cap("2024", "secondary-school", "laptop", 3)
        await uow.repo.put_cap("2023", "epn", "desktop", 5)
    assert await storage.repo.caps_of("2024") == {"secondary-school": {"laptop": 3}}
    assert [(c["period"], c["max_devices"]) for c in await storage.repo.caps()] == [("2023", 5), ("2024", 3)]
    assert await storage.repo.lock_request(uuid.uuid4()) is None


async def test_an_allocation_holds_its_devices_counts_for_the_period_and_ends_in_a_delivery(storage: Storage) -> None:
    await organisations(storage)
    batch_id, ids = await declare(storage, a_row("A1"), a_row("A2"), a_row("A3", "tablet"))
    await ready(storage, ids)
    assert [d["id"] for d in await storage.repo.allocatable_stock(lock=False)] == sorted(ids)
    request_id = await accepted_request(storage, {"laptop": 2, "tablet": 1})
    run_id = uuid.uuid4()
    async with storage.unit_of_work() as uow:
        await uow.repo.lock_allocation_runs()
        assert [d["id"] for d in await uow.repo.allocatable_stock(lock=True)] == sorted(ids)
        await uow.repo.allocate(run_id, request_id, "2024", ids, COORDINATION)
    assert await storage.repo.allocatable_stock(lock=False) == []
    assert await storage.repo.allocated_per_request() == {str(request_id): {"laptop": 2, "tablet": 1}}
    assert await storage.repo.used_in("2024") == {"secondary-school": {"laptop": 2, "tablet": 1}}
    assert await storage.repo.used_in("2025") == {}
    assert (await storage.repo.history(ids[0]))[-1]["data"] == {"request_id": str(request_id), "run_id": str(run_id)}
    [listed] = await storage.repo.requests()
    assert listed["allocated"] == 3

    async with storage.unit_of_work() as uow:
        held = await uow.repo.lock_allocated([*ids, uuid.uuid4()])
        assert sorted((r["id"], r["custodian"], r["allocation"], r["recipient"]) for r in held) == sorted(
            (i, DONOR, "allocated", SCHOOL) for i in ids
        )
        handover = await uow.repo.add_handover(SCHOOL, [ids[1], ids[0], ids[2]], date(2024, 5, 6), COORDINATION)
    assert set(handover) == {
        "id",
        "recipient",
        "device_ids",
        "delivered_on",
        "recorded_by",
        "acknowledged_at",
        "next_follow_up",
        "created_at",
    }
    assert (handover["device_ids"], handover["acknowledged_at"]) == (sorted(ids), None)
    async with storage.unit_of_work() as uow:
        locked = await uow.repo.lock_handover(handover["id"]) or {}
        await uow.repo.deliver(handover["id"], SCHOOL, locked["device_ids"], date(2024, 11, 6), COORDINATION)
        groups = await uow.repo.delivered_groups(handover["id"], locked["device_ids"])
    assert groups == [
        {
            "donor": DONOR,
            "donor_kind": "regional-public-body",
            "recipient_kind": "secondary-school",
            "public": "young-people",
            "commune": "Ixelles",
            "kind": kind,
            "n": n,
        }
        for kind, n in (("laptop", 2), ("tablet", 1))
    ]
    delivered = await storage.repo.device(ids[0]) or {}
    assert (delivered["allocation"], delivered["custodian"]) == ("delivered", SCHOOL)
    assert await storage.repo.lock_allocated(ids) == [], "delivered, not allocated any more"
    assert await storage.repo.allocated_per_request() == {str(request_id): {"laptop": 2, "tablet": 1}}
    assert (await storage.repo.batch_counts(batch_id))["delivered"] == 3

    assert await storage.repo.lock_due_follow_ups(date(2024, 11, 5)) == []
    async with storage.unit_of_work() as uow:
        [due] = await uow.repo.lock_due_follow_ups(date(2024, 11, 6))
        assert (due["id"], due["next_follow_up"], due["acknowledged_at"] is not None) == (
            handover["id"],
            date(2024, 11, 6),
            True,
        )
        await uow.repo.set_next_follow_up(handover["id"], date(2025, 5, 6))
    assert await storage.repo.lock_due_follow_ups(date(2025, 5, 5)) == []


async def test_a_returned_device_leaves_its_allocation_and_a_disposal_is_in_the_weee_register(storage: Storage) -> None:
    await organisations(storage)
    _, [device, screen] = await declare(storage, a_row("A1"), a_row("A2", "screen", ()))
    await ready(storage, [device])
    request_id = await accepted_request(storage, {"laptop": 1})
    async with storage.unit_of_work() as uow:
        await uow.repo.allocate(uuid.uuid4(), request_id, "2024", [device], COORDINATION)
        handover = await uow.repo.add_handover(SCHOOL, [device], date(2024, 5, 6), COORDINATION)
        await uow.repo.deliver(handover["id"], SCHOOL, [device], date(2024, 11, 6), COORDINATION)
    async with storage.unit_of_work() as uow:
        await uow.repo.return_device(device, SCHOOL, REFURBISHER, "Écran cassé", COORDINATION)
        await uow.repo.return_device(screen, DONOR, REFURBISHER, "spare", COORDINATION)
    assert await storage.repo.allocated_per_request() == {}, "a returned device no longer counts for its request"
    assert (await storage.repo.history(device))[-1]["data"] == {"from": SCHOOL, "reason": "Écran cassé"}
    assert (await storage.repo.device(screen) or {})["sanitisation"] == "wiped", "nothing to wipe again"
    async with storage.unit_of_work() as uow:
        await uow.repo.dispose(device, REFURBISHER, "recupel", date(2024, 9, 12), "recycling", "REC-17", COORDINATION)
    assert (await storage.repo.device(device) or {})["physical"] == "disposed"
    [weee] = await storage.repo.weee_rows(2024)
    assert (weee["device_id"], weee["recycler"], weee["disposed_on"], weee["certificate_reference"]) == (
        device,
        "recupel",
        date(2024, 9, 12),
        "REC-17",
    )
    assert set(weee) == {
        "short_code",
        "device_id",
        "kind",
        "make",
        "model",
        "year",
        "donor",
        "recycler",
        "disposed_on",
        "method",
        "certificate_reference",
    }
    assert await storage.repo.weee_rows(2023) == []


# --- documents and declared deliveries --------------------------------------------------------


async def test_certificates_are_kept_with_their_digest_the_latest_last(storage: Storage) -> None:
    await organisations(storage)
    _, [device] = await declare(storage, a_row("A1"))
    first, second = uuid.uuid4(), uuid.uuid4()
    async with storage.unit_of_work() as uow:
        await uow.repo.add_certificate(first, device, "a" * 64, b"%PDF-1", date(2024, 2, 20))
    async with storage.unit_of_work() as uow:
        await uow.repo.add_certificate(second, device, "b" * 64, b"%PDF-2", date(2024, 3, 1))
    assert await storage.repo.certificate(first) == {"content": b"%PDF-1", "sha256": "a" * 64}
    assert await storage.repo.latest_certificate(device) == {"content": b"%PDF-2", "sha256": "b" * 64}
    assert [(c["id"], c["issued_on"]) for c in await storage.repo.certificates_of(device)] == [
        (first, date(2024, 2, 20)),
        (second, date(2024, 3, 1)),
    ]
    assert await storage.repo.certificate(uuid.uuid4()) is None
    assert await storage.repo.latest_certificate(uuid.uuid4()) is None


async def test_a_declared_delivery_is_recorded_with_its_counts_and_who_recorded_it(storage: Storage) -> None:
    delivery = DevicesDelivered(
        delivery_id=str(uuid.uuid4()),
        recipient="asbl-devoirs",
        recipient_kind="pupils-association",
        devices={"laptop": 20, "tablet": 5},
        total_devices=25,
        public="young-people",
        beneficiaries=25,
        commune="Anderlecht",
        delivered_on=date(2026, 11, 20),
    )
    async with storage.unit_of_work() as uow:
        row = await uow.repo.add_delivery(delivery, "key-1", COORDINATION)
    assert row["delivery_id"] == uuid.UUID(delivery.delivery_id)
    assert (row["devices"], row["total_devices"], row["idempotency_key"], row["recorded_by"]) == (
        {"laptop": 20, "tablet": 5},
        25,
        "key-1",
        COORDINATION.model_dump(mode="json"),
    )
    async with storage.unit_of_work() as uow:
        again = DevicesDelivered(**{**delivery.model_dump(), "delivery_id": str(uuid.uuid4())})
        await uow.repo.add_delivery(again, "key-1", COORDINATION)  # keys live in idempotency_keys, per organisation
