"""The repository's contract, part 2: requests, caps, allocation, delivery, end of life, documents and declared deliveries."""

from __future__ import annotations

import uuid
from datetime import date

import pytest
from passerelle_contracts.equipment_v1 import DevicesDelivered

from tests.integration.equipment_repository.given import (
    COORDINATION,
    DONOR,
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
        handover = await uow.repo.add_handover(DONOR, SCHOOL, [ids[1], ids[0], ids[2]], date(2024, 5, 6), COORDINATION)
    assert set(handover) == {
        "id",
        "recipient",
        "device_ids",
        "delivered_on",
        "recorded_by",
        "acknowledged_at",
        "next_follow_up",
        "created_at",
        "cancelled_at",
        "cancelled_by",
        "from_org",
    }
    assert (handover["device_ids"], handover["acknowledged_at"], handover["from_org"]) == (sorted(ids), None, DONOR)
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
        handover = await uow.repo.add_handover(DONOR, SCHOOL, [device], date(2024, 5, 6), COORDINATION)
        await uow.repo.deliver(handover["id"], SCHOOL, [device], date(2024, 11, 6), COORDINATION)
    async with storage.unit_of_work() as uow:
        await uow.repo.return_device(device, SCHOOL, REFURBISHER, "Écran cassé", COORDINATION)
        await uow.repo.return_device(screen, DONOR, REFURBISHER, "spare", COORDINATION)
    assert await storage.repo.allocated_per_request() == {}, "a returned device no longer counts for its request"
    assert (await storage.repo.history(device))[-1]["data"] == {"from": SCHOOL, "reason": "Écran cassé"}
    assert (await storage.repo.device(screen) or {})["sanitisation"] == "wiped", "nothing to wipe again"
    assert (await storage.repo.device(screen) or {})["media_known"] is True
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


async def test_a_device_is_in_one_open_handover_and_one_cancelled_or_gone_stale_holds_nothing(storage: Storage) -> None:
    await organisations(storage)
    _, ids = await declare(storage, a_row("A1"), a_row("A2"))
    await ready(storage, ids)
    request_id = await accepted_request(storage, {"laptop": 2})
    async with storage.unit_of_work() as uow:
        await uow.repo.allocate(uuid.uuid4(), request_id, "2024", ids, COORDINATION)
        first = await uow.repo.add_handover(DONOR, SCHOOL, ids, date(2024, 5, 6), COORDINATION)
    assert {r["handover_id"] for r in await storage.repo.lock_allocated(ids)} == {first["id"]}
    async with storage.unit_of_work() as uow:
        assert sorted(await uow.repo.lock_handed_over(first["id"])) == sorted(ids)
        cancelled = await uow.repo.cancel_handover(first["id"], COORDINATION)
    assert cancelled["cancelled_at"] is not None and cancelled["cancelled_by"] == COORDINATION.model_dump(mode="json")
    assert {r["handover_id"] for r in await storage.repo.lock_allocated(ids)} == {None}, "the devices are free again"
    async with storage.unit_of_work() as uow:
        assert await uow.repo.lock_handed_over(first["id"]) == []
        second = await uow.repo.add_handover(DONOR, SCHOOL, ids[:1], date(2024, 5, 6), COORDINATION)
        await uow.repo.release_allocation(ids[0], COORDINATION, "a disk found at inspection")
    async with storage.unit_of_work() as uow:
        assert await uow.repo.lock_handed_over(second["id"]) == [], "stale: its device left its allocation"
    released = await storage.repo.device(ids[0]) or {}
    assert released["allocation"] == "available"
    assert (await storage.repo.history(ids[0]))[-1]["action"] == "allocation-cancelled"
    assert await storage.repo.allocated_per_request() == {str(request_id): {"laptop": 1}}


async def test_a_returned_device_that_may_hold_storage_and_has_no_media_on_record_has_its_media_unknown(
    storage: Storage,
) -> None:
    await organisations(storage)
    _, [laptop, with_disk] = await declare(storage, a_row("A1", storage=()), a_row("A2"))
    async with storage.unit_of_work() as uow:
        await uow.repo.add_media(laptop, [])  # inspected and found without storage, or handed on under the old rule
        await uow.repo.set_sanitisation(laptop, "wiped")
        await uow.repo.add_sanitisations(with_disk, [a_wipe("m1")], COORDINATION)
        await uow.repo.set_sanitisation(with_disk, "wiped")
    async with storage.unit_of_work() as uow:
        await uow.repo.return_device(laptop, SCHOOL, REFURBISHER, "lent", COORDINATION)
        await uow.repo.return_device(with_disk, SCHOOL, REFURBISHER, "lent", COORDINATION)
    back = await storage.repo.device(laptop) or {}
    assert (back["sanitisation"], back["media_known"], back["allocation"]) == ("pending", False, "returned")
    assert await storage.repo.unknown_media([laptop, with_disk]) == [laptop]
    disk = await storage.repo.device(with_disk) or {}
    assert (disk["sanitisation"], disk["media_known"]) == ("pending", True), "its disk is known: wiped again"


async def test_the_devices_in_an_open_handover_and_their_holder_are_known(storage: Storage) -> None:
    await organisations(storage)
    _, ids = await declare(storage, a_row("A1"), a_row("A2"), a_row("A3"))
    await ready(storage, ids)
    request_id = await accepted_request(storage, {"laptop": 3})
    async with storage.unit_of_work() as uow:
        await uow.repo.allocate(uuid.uuid4(), request_id, "2024", ids[:2], COORDINATION)
        first = await uow.repo.add_handover(DONOR, SCHOOL, ids[:1], date(2024, 5, 6), COORDINATION)
        assert [(r["id"], r["custodian"], r["allocation"]) for r in await uow.repo.lock_custody(ids)] == sorted(
            [(ids[0], DONOR, "allocated"), (ids[1], DONOR, "allocated"), (ids[2], DONOR, "available")]
        )
    assert await storage.repo.open_handovers(ids) == [first["id"]]
    assert (await storage.repo.lock_handover(first["id"]) or {})["from_org"] == DONOR
    async with storage.unit_of_work() as uow:
        await uow.repo.cancel_handover(first["id"], COORDINATION)
        second = await uow.repo.add_handover(DONOR, SCHOOL, ids[:2], date(2024, 5, 6), COORDINATION)
    assert await storage.repo.open_handovers(ids[1:]) == [second["id"]], "a cancelled one holds nothing"
    async with storage.unit_of_work() as uow:
        await uow.repo.deliver(second["id"], SCHOOL, ids[:2], date(2024, 11, 6), COORDINATION)
    assert await storage.repo.open_handovers(ids) == [], "an acknowledged one neither"
