"""The equipment service's migrations on a database that already holds a season: what migration 0005
fills in for the rows written before it (which open delivery an allocation is in, who hands a
delivery over) follows the records, never a guess that could deliver a device to another recipient."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest

from services.equipment.app import MIGRATIONS
from services.equipment.sql import EquipmentRepository
from services.runtime import db
from tests.conftest import CreateDatabase

pytestmark = pytest.mark.infra

DONOR, REFURBISHER, SCHOOL, HOME = "cirb-paradigm", "asbl-refurb", "athenee-ixelles", "maison-de-repos"
COORDINATION = {"organisation": "coordination-inclusion-numerique", "role": "coordination", "key_id": "k1"}


def at(day: int) -> datetime:
    return datetime(2024, 5, day, 9, 0, tzinfo=UTC)


@pytest.fixture
async def before_0005(create_database: CreateDatabase, tmp_path: Path) -> AsyncIterator[tuple[asyncpg.Pool, Path]]:
    """A database migrated up to 0004 (the released migrations), and the folder to add 0005 to."""
    folder = tmp_path / "migrations"
    folder.mkdir()
    for path in sorted(MIGRATIONS.glob("*.sql")):
        if int(path.name[:4]) < 5:
            shutil.copy(path, folder)
    pool = await db.create_pool(await create_database("equipment_0005"))
    try:
        await db.migrate(pool, {"runtime": db.RUNTIME_MIGRATIONS, "equipment": folder})
        yield pool, folder
    finally:
        await pool.close()


async def a_device(conn: db.Executor, batch: uuid.UUID, tag: str) -> uuid.UUID:
    """A laptop with a disk, wiped and refurbished, at the refurbisher."""
    device = uuid.uuid4()
    await conn.execute(
        """INSERT INTO devices (id, short_code, batch_id, donor, asset_tag, kind, custodian, physical, sanitisation)
           VALUES ($1, $2, $3, $4, $5, 'laptop', $6, 'refurbished', 'wiped')""",
        device,
        f"PSR-{tag}",
        batch,
        DONOR,
        tag,
        REFURBISHER,
    )
    await conn.execute("INSERT INTO media (device_id, medium_id, type) VALUES ($1, 'm1', 'ssd')", device)
    return device


async def a_request(conn: db.Executor, recipient: str, kind: str) -> uuid.UUID:
    request = uuid.uuid4()
    await conn.execute(
        """INSERT INTO requests (id, recipient, recipient_kind, devices, status, granted)
           VALUES ($1, $2, $3, '{"laptop": 1}', 'accepted', '{"laptop": 1}')""",
        request,
        recipient,
        kind,
    )
    return request


async def an_allocation(
    conn: db.Executor, request: uuid.UUID, device: uuid.UUID, when: datetime, status: str = "allocated"
) -> uuid.UUID:
    allocation = uuid.uuid4()
    await conn.execute(
        """INSERT INTO allocations (id, run_id, request_id, device_id, period, status, created_at)
           VALUES ($1, $2, $3, $4, '2024', $5, $6)""",
        allocation,
        uuid.uuid4(),
        request,
        device,
        status,
        when,
    )
    return allocation


async def a_handover(
    conn: db.Executor, recipient: str, devices: list[uuid.UUID], when: datetime, recorded_by: dict[str, str]
) -> uuid.UUID:
    handover = uuid.uuid4()
    await conn.execute(
        """INSERT INTO handovers (id, recipient, device_ids, delivered_on, recorded_by, created_at)
           VALUES ($1, $2, $3, $4, $5, $6)""",
        handover,
        recipient,
        devices,
        when.date(),
        recorded_by,
        when,
    )
    return handover


async def test_an_allocation_is_linked_only_to_an_open_delivery_to_its_own_recipient_recorded_since(
    before_0005: tuple[asyncpg.Pool, Path],
) -> None:
    pool, folder = before_0005
    refurbisher = {"organisation": REFURBISHER, "role": "refurbisher", "key_id": "k2"}
    async with pool.acquire() as conn:
        await conn.execute(
            """INSERT INTO organisations (code, name, kind) VALUES
               ($1, 'Paradigm', 'regional-public-body'), ($2, 'Refurb', 'refurbisher'),
               ($3, 'Athénée', 'secondary-school'), ($4, 'Maison de repos', 'retirement-home')""",
            DONOR,
            REFURBISHER,
            SCHOOL,
            HOME,
        )
        batch = uuid.uuid4()
        await conn.execute("INSERT INTO batches (id, donor, reference) VALUES ($1, $2, 'R-1')", batch, DONOR)
        moved_on, handed, earlier = [await a_device(conn, batch, t) for t in ("A1", "A2", "A3")]
        for_school = await a_request(conn, SCHOOL, "secondary-school")
        for_home = await a_request(conn, HOME, "retirement-home")
        # A1 went to the school's request, then back to the stock with its delivery left open (stale),
        # then to the home's request: the school's delivery must not deliver it to the school.
        await an_allocation(conn, for_school, moved_on, at(1), status="cancelled")
        stale = await a_handover(conn, SCHOOL, [moved_on], at(2), refurbisher)
        home_allocation = await an_allocation(conn, for_home, moved_on, at(3))
        # A2: allocated to the home, then handed over to it: its delivery.
        home_allocation_2 = await an_allocation(conn, for_home, handed, at(1))
        open_ = await a_handover(conn, HOME, [handed], at(2), COORDINATION)
        # A3: a delivery to the home recorded before its allocation to the home (from an older one).
        before = await a_handover(conn, HOME, [earlier], at(1), refurbisher)
        home_allocation_3 = await an_allocation(conn, for_home, earlier, at(2))
        await conn.execute(
            "UPDATE devices SET allocation = 'allocated' WHERE id = ANY($1::uuid[])", [moved_on, handed, earlier]
        )

    shutil.copy(MIGRATIONS / "0005_hostile_input_and_access.sql", folder)
    assert await db.migrate(pool, {"runtime": db.RUNTIME_MIGRATIONS, "equipment": folder}) == [
        "equipment/0005_hostile_input_and_access"
    ]

    linked = {
        r["id"]: r["handover_id"]
        for r in await pool.fetch("SELECT id, handover_id FROM allocations WHERE status = 'allocated'")
    }
    assert linked == {home_allocation: None, home_allocation_2: open_, home_allocation_3: None}
    repo = EquipmentRepository(pool)
    async with pool.acquire() as conn, conn.transaction():
        assert await EquipmentRepository(conn).lock_handed_over(stale) == [], "stale: acknowledging it delivers nothing"
    assert (await repo.lock_handover(stale) or {})["from_org"] == REFURBISHER, "who recorded it"
    assert (await repo.lock_handover(open_) or {})["from_org"] == REFURBISHER, "the holder, for the Coordination"
    assert (await repo.lock_handover(before) or {})["from_org"] == REFURBISHER
