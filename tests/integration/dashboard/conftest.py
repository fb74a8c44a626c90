"""The dashboard's read models on a fresh PostgreSQL database, and events applied to them with the
live consumer's code (``projector.project``)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest
from passerelle_contracts import Envelope
from passerelle_contracts.envelope import EventData

from services.dashboard.projector import MIGRATIONS, project
from services.runtime import db
from tests.conftest import CreateDatabase


@pytest.fixture
async def pool(create_database: CreateDatabase) -> AsyncIterator[asyncpg.Pool]:
    pool = await db.create_pool(await create_database("dashboard"))
    try:
        await db.migrate(pool, {"runtime": db.RUNTIME_MIGRATIONS, "dashboard": MIGRATIONS})
        yield pool
    finally:
        await pool.close()


async def apply(pool: asyncpg.Pool, events: list[tuple[Envelope, EventData]]) -> list[int | None]:
    """Apply the events in one transaction; each one's feed position, None for one applied before."""
    positions = []
    async with pool.acquire() as conn, conn.transaction():
        for envelope, data in events:
            positions.append(await project(conn, envelope, data, data.topic))
    return positions
