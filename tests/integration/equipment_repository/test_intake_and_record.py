"""The repository's contract, part 1: organisations, intake, sanitisation, custody and donors' milestones."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime
from typing import cast, get_args

import asyncpg
import pytest
from passerelle_contracts.common import RECIPIENT_KINDS

from services.equipment.api.devices import EquipmentOrganisationKind
from services.equipment.handlers import intake
from tests.integration.equipment_repository.given import (
    COORDINATION,
    DONOR,
    ORGANISATIONS,
    REFURBISHER,
    SCHOOL,
    Storage,
    a_row,
    a_wipe,
    accepted_request,
    declare,
    organisations,
    ready,
)

pytestmark = pytest.mark.infra


# --- organisations and intake -----------------------------------------------------------------


async def test_replicas_starting_together_on_a_new_database_seed_the_organisations_once(storage: Storage) -> None:
    if storage.kind == "postgres":  # three connections open, as three replicas' would be: their checks interleave
        pool = cast(asyncpg.Pool, storage.repo.db)
        held = [await pool.acquire() for _ in range(3)]
        for conn in held:
            await pool.release(conn)
    loaded = await asyncio.gather(*(intake.seed_organisations(storage.unit_of_work(), ORGANISATIONS) for _ in range(3)))
    assert sorted(loaded) == [False, False, True], "one replica loads them, the others find them loaded"
    assert [o["code"] for o in await storage.repo.organisations()] == sorted(o["code"] for o in ORGANISATIONS)


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
        assert await uow.repo.lock_custody([*ids, uuid.uuid4()]) == [
            {"id": i, "custodian": DONOR, "allocation": "available"} for i in sorted(ids)
        ]
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


# --- the sanitisation rule on every path to a recipient ---------------------------------------


async def test_the_database_refuses_to_move_a_device_not_fully_sanitised_into_a_recipients_custody(
    storage: Storage,
) -> None:
    await organisations(storage)
    _, [failed, bare, wiped] = await declare(storage, a_row("A1"), a_row("A2", storage=()), a_row("A3"))
    assert (await storage.repo.device(bare) or {})["media_known"] is False, "declared without storage: unknown"
    async with storage.unit_of_work() as uow:
        await uow.repo.set_sanitisation(failed, "failed")
        await uow.repo.set_sanitisation(bare, "wiped")  # as a write that forgot the unknown media might
        await uow.repo.set_sanitisation(wiped, "wiped")
    for device in (failed, bare):
        async with storage.unit_of_work() as uow:
            transfer = await uow.repo.add_transfer(DONOR, SCHOOL, [device], COORDINATION)
        with pytest.raises(asyncpg.CheckViolationError, match="cannot go into the custody of athenee-ixelles"):
            async with storage.unit_of_work() as uow:
                await uow.repo.move_custody(transfer["id"], [device], DONOR, SCHOOL, COORDINATION)
        assert (await storage.repo.device(device) or {})["custodian"] == DONOR
    async with storage.unit_of_work() as uow:
        to_refurbisher = await uow.repo.add_transfer(DONOR, REFURBISHER, [failed, bare], COORDINATION)
        moved = await uow.repo.move_custody(to_refurbisher["id"], [failed, bare], DONOR, REFURBISHER, COORDINATION)
    assert len(moved) == 2, "a refurbisher may hold devices not sanitised yet"
    async with storage.unit_of_work() as uow:
        transfer = await uow.repo.add_transfer(DONOR, SCHOOL, [wiped], COORDINATION)
        assert len(await uow.repo.move_custody(transfer["id"], [wiped], DONOR, SCHOOL, COORDINATION)) == 1
    request_id = await accepted_request(storage, {"laptop": 1})
    async with storage.unit_of_work() as uow:
        await uow.repo.set_condition(bare, "refurbished", "A", None)
    with pytest.raises(asyncpg.CheckViolationError, match="cannot be allocated while its storage media are unknown"):
        async with storage.unit_of_work() as uow:
            await uow.repo.allocate(uuid.uuid4(), request_id, "2024", [bare], COORDINATION)


async def test_media_found_at_inspection_are_added_after_the_declared_ones(storage: Storage) -> None:
    await organisations(storage)
    _, [bare, desktop] = await declare(storage, a_row("A1", storage=()), a_row("A2", "desktop"))
    assert await storage.repo.unknown_media([bare, desktop, uuid.uuid4()]) == [bare]
    async with storage.unit_of_work() as uow:
        assert await uow.repo.add_media(bare, []) == []
        assert await uow.repo.add_media(desktop, [("hdd", 500, "WD-9"), ("nvme", 1000, "")]) == ["m2", "m3"]
    assert await storage.repo.unknown_media([bare, desktop]) == []
    found = await storage.repo.device(desktop) or {}
    assert [(m["medium_id"], m["type"], m["capacity_gb"], m["serial"]) for m in found["media"]] == [
        ("m1", "ssd", 256, "S1"),
        ("m2", "hdd", 500, "WD-9"),
        ("m3", "nvme", 1000, ""),
    ]
    assert found["media_known"] is True
    async with storage.unit_of_work() as uow:
        assert await uow.repo.add_media(bare, [("ssd", 128, "")]) == ["m1"]


async def test_the_records_of_a_device_are_all_known_for_a_log_sent_again(storage: Storage) -> None:
    await organisations(storage)
    _, [device] = await declare(storage, a_row("A1"))
    async with storage.unit_of_work() as uow:
        await uow.repo.add_sanitisations(device, [a_wipe("m1", "failed"), a_wipe("m1")], COORDINATION)
        await uow.repo.return_device(device, SCHOOL, REFURBISHER, "broken", COORDINATION)
    recorded = await storage.repo.recorded_sanitisations([device, uuid.uuid4()])
    assert [(r["device_id"], r["medium_id"], r["result"], r["operator"]) for r in recorded] == [
        (device, "m1", "failed", "op-17"),
        (device, "m1", "passed", "op-17"),
    ], "those made before the return too"
    assert set(recorded[0]) >= {"method", "tool", "tool_version", "passes", "verification", "started_at", "ended_at"}


async def test_the_intake_of_devices_is_the_latest_of_their_declarations(storage: Storage) -> None:
    await organisations(storage)
    _, [first] = await declare(storage, a_row("A1"))
    _, [second] = await declare(storage, a_row("A2"), reference="R-2")
    one = await storage.repo.intake_of([first])
    both = await storage.repo.intake_of([first, second])
    assert one is not None and both is not None and one <= both
    assert await storage.repo.intake_of([uuid.uuid4()]) is None


async def test_a_proposed_transfer_is_cancelled_once_and_no_longer_holds_its_devices(storage: Storage) -> None:
    await organisations(storage)
    _, ids = await declare(storage, a_row("A1"))
    async with storage.unit_of_work() as uow:
        transfer = await uow.repo.add_transfer(DONOR, REFURBISHER, ids, COORDINATION)
    async with storage.unit_of_work() as uow:
        cancelled = await uow.repo.cancel_transfer(transfer["id"], COORDINATION)
    assert (cancelled["status"], cancelled["cancelled_by"]) == ("cancelled", COORDINATION.model_dump(mode="json"))
    assert cancelled["cancelled_at"] is not None
    assert await storage.repo.in_pending_transfer(ids) is False


# --- who reads what ---------------------------------------------------------------------------


async def test_a_partner_reads_the_devices_it_gave_holds_or_is_offered_and_nobody_elses(storage: Storage) -> None:
    await organisations(storage)
    batch_id, [given, offered, kept] = await declare(storage, a_row("A1"), a_row("A2"), a_row("A3"))
    certificate = uuid.uuid4()
    async with storage.unit_of_work() as uow:
        transfer = await uow.repo.add_transfer(DONOR, REFURBISHER, [given, offered], COORDINATION)
        await uow.repo.move_custody(transfer["id"], [given, offered], DONOR, REFURBISHER, COORDINATION)
        await uow.repo.add_certificate(certificate, given, "a" * 64, b"%PDF-1", date(2024, 2, 20))
    await ready(storage, [offered])
    async with storage.unit_of_work() as uow:
        await uow.repo.add_transfer(REFURBISHER, SCHOOL, [offered], COORDINATION)
        await uow.repo.dispose(given, REFURBISHER, "recupel", date(2024, 9, 12), "recycling", "REC-1", COORDINATION)

    def ids(rows: list[dict[str, object]], key: str = "id") -> set[object]:
        return {r[key] for r in rows}

    assert ids(await storage.repo.find_devices()) == {given, offered, kept}
    assert ids(await storage.repo.find_devices(visible_to=DONOR)) == {given, offered, kept}
    assert ids(await storage.repo.find_devices(visible_to=REFURBISHER)) == {given, offered}
    assert ids(await storage.repo.find_devices(visible_to=SCHOOL)) == {offered}, "offered by a waiting transfer"
    assert ids(await storage.repo.find_devices(visible_to="someone-else")) == set()
    assert await storage.repo.device(kept, visible_to=REFURBISHER) is None
    assert (await storage.repo.device(kept, visible_to=DONOR) or {})["id"] == kept
    assert await storage.repo.certificate(certificate, visible_to=SCHOOL) is None
    assert (await storage.repo.certificate(certificate, visible_to=REFURBISHER) or {})["sha256"] == "a" * 64
    assert ids(await storage.repo.label_rows(None, batch_id, visible_to=REFURBISHER)) == {given, offered}
    assert await storage.repo.label_rows([kept], None, visible_to=SCHOOL) == []
    assert ids(await storage.repo.weee_rows(2024, visible_to=REFURBISHER), "device_id") == {given}
    assert await storage.repo.weee_rows(2024, visible_to=SCHOOL) == []


async def test_an_organisation_that_handed_a_device_on_no_longer_reads_it(storage: Storage) -> None:
    await organisations(storage)
    batch_id, [device] = await declare(storage, a_row("A1"))
    certificate = uuid.uuid4()
    async with storage.unit_of_work() as uow:
        transfer = await uow.repo.add_transfer(DONOR, REFURBISHER, [device], COORDINATION)
        await uow.repo.move_custody(transfer["id"], [device], DONOR, REFURBISHER, COORDINATION)
    await ready(storage, [device])
    async with storage.unit_of_work() as uow:
        await uow.repo.add_certificate(certificate, device, "a" * 64, b"%PDF-1", date(2024, 2, 20))
        transfer = await uow.repo.add_transfer(REFURBISHER, SCHOOL, [device], COORDINATION)
        await uow.repo.move_custody(transfer["id"], [device], REFURBISHER, SCHOOL, COORDINATION)
    async with storage.unit_of_work() as uow:
        await uow.repo.return_device(device, SCHOOL, REFURBISHER, "Écran cassé", COORDINATION)
        await uow.repo.dispose(device, REFURBISHER, "recupel", date(2024, 9, 12), "recycling", "REC-1", COORDINATION)
    assert await storage.repo.find_devices(visible_to=SCHOOL) == [], "it held the device, and gave it back"
    assert await storage.repo.device(device, visible_to=SCHOOL) is None
    assert await storage.repo.certificate(certificate, visible_to=SCHOOL) is None
    assert await storage.repo.label_rows(None, batch_id, visible_to=SCHOOL) == []
    assert await storage.repo.weee_rows(2024, visible_to=SCHOOL) == []
    assert [d["id"] for d in await storage.repo.find_devices(visible_to=REFURBISHER)] == [device], "its holder again"
    assert [d["id"] for d in await storage.repo.find_devices(visible_to=DONOR)] == [device], "its donor always"


async def test_the_database_and_the_contracts_agree_on_which_organisations_are_recipients(storage: Storage) -> None:
    """The custody trigger of migration 0005 names the recipient kinds: it must name the contracts'
    ``RECIPIENT_KINDS``, no more, no fewer (a kind added to the contracts fails here until it is)."""
    kinds = get_args(EquipmentOrganisationKind)
    assert set(RECIPIENT_KINDS) <= set(kinds)
    async with storage.unit_of_work() as uow:
        await uow.repo.add_organisations(
            [*ORGANISATIONS, *({"code": f"org-{k}", "name": k, "kind": k, "commune": None} for k in kinds)]
        )
    refused = set()
    for kind in kinds:
        _, [device] = await declare(storage, a_row(f"T-{kind}"), reference=f"R-{kind}")  # not wiped
        try:
            async with storage.unit_of_work() as uow:
                transfer = await uow.repo.add_transfer(DONOR, f"org-{kind}", [device], COORDINATION)
                await uow.repo.move_custody(transfer["id"], [device], DONOR, f"org-{kind}", COORDINATION)
        except asyncpg.CheckViolationError:
            refused.add(kind)
    assert refused == set(RECIPIENT_KINDS)
