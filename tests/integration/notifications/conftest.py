"""Fixtures of the notifications use-case tests, on PostgreSQL (helpers are in ``given``).

Why not a fake repository, as the other services' use-case tests have: who hears of an event is
decided in SQL (one query matches every contact's filters against the event's facets, so that one
event to 500 subscribers is one round trip), and a fake would test its own Python copy of that
query rather than the query."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from services.notifications.app import MIGRATIONS
from services.runtime import db
from tests.conftest import CreateDatabase

from .given import PgStore

pytestmark = pytest.mark.infra


@pytest.fixture
async def store(create_database: CreateDatabase) -> AsyncIterator[PgStore]:
    pool = await db.create_pool(await create_database("notifications"))
    try:
        await db.migrate(pool, {"runtime": db.RUNTIME_MIGRATIONS, "notifications": MIGRATIONS})
        yield PgStore(pool)
    finally:
        await pool.close()
