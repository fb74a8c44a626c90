"""The evidence of the device record is append-only in the database itself: the history, the
sanitisation records and the certificates can be added to, never changed, deleted or truncated,
whatever path the statement takes; and the sanitisation rule holds for a write that goes round
the use cases."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import pytest

from tests.integration.test_equipment_record import REFURBISHER, declared, wipe

pytestmark = pytest.mark.infra

CHANGES = {
    "device_history": "UPDATE device_history SET data = '{}'",
    "sanitisations": "UPDATE sanitisations SET result = 'passed', operator = 'nobody'",
    "certificates": "UPDATE certificates SET sha256 = repeat('0', 64)",
}


async def wiped_laptop(equipment: Any) -> str:
    headers, devices = await declared(equipment)
    ids = [d["id"] for d in devices.values()]
    transfer = (
        await equipment.client.post("/transfers", json={"to": REFURBISHER, "devices": ids}, headers=headers["donor"])
    ).json()
    await equipment.client.post(f"/transfers/{transfer['id']}/confirm", headers=headers["refurbisher"])
    laptop = devices["PAR-001"]["id"]
    answer = await equipment.client.post(
        f"/devices/{laptop}/sanitisations", json={"records": [wipe("m1")]}, headers=headers["refurbisher"]
    )
    assert answer.json()["sanitisation"] == "wiped", answer.text
    return str(laptop)


async def counts(pool: asyncpg.Pool) -> tuple[int, ...]:
    return tuple([await pool.fetchval(f"SELECT count(*) FROM {table}") for table in CHANGES])


@pytest.mark.parametrize("table", sorted(CHANGES))
async def test_the_evidence_cannot_be_changed_deleted_or_truncated(equipment: Any, table: str) -> None:
    await wiped_laptop(equipment)
    pool: asyncpg.Pool = equipment.runtime.pool
    before = await counts(pool)
    assert all(before), "every table holds evidence"
    for statement in (CHANGES[table], f"DELETE FROM {table}", f"TRUNCATE {table}"):
        with pytest.raises(asyncpg.RaiseError, match=f"{table} is append-only"):
            await pool.execute(statement)
    assert await counts(pool) == before


async def test_truncating_the_devices_cannot_take_their_evidence_with_them(equipment: Any) -> None:
    await wiped_laptop(equipment)
    pool: asyncpg.Pool = equipment.runtime.pool
    before = await counts(pool)
    with pytest.raises(asyncpg.RaiseError, match="is append-only"):
        await pool.execute("TRUNCATE devices CASCADE")
    assert await counts(pool) == before


async def test_a_direct_write_cannot_move_a_device_not_sanitised_into_a_recipients_custody(equipment: Any) -> None:
    laptop = uuid.UUID(await wiped_laptop(equipment))
    pool: asyncpg.Pool = equipment.runtime.pool
    failed = await pool.fetchval("SELECT id FROM devices WHERE asset_tag = 'PAR-002'")
    school = "maison-de-repos-exemple"  # a recipient organisation of the seed
    with pytest.raises(asyncpg.CheckViolationError, match="cannot go into the custody of maison-de-repos-exemple"):
        await pool.execute("UPDATE devices SET custodian = $2 WHERE id = $1", failed, school)
    await pool.execute("UPDATE devices SET custodian = $2 WHERE id = $1", laptop, school)  # wiped: allowed
    assert await pool.fetchval("SELECT custodian FROM devices WHERE id = $1", laptop) == school
