"""The evidence the actions service keeps (the actions' history, measurements, published annual
reports) is append-only in the database itself, whatever path writes to it: UPDATE, DELETE and
TRUNCATE are refused by triggers. PostgreSQL only: the fake has no SQL to refuse."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import date
from decimal import Decimal

import asyncpg
import pytest
from passerelle_contracts import SYSTEM_ACTOR

from services.actions import events
from services.actions.app import MIGRATIONS
from services.actions.sql import ActionsRepository
from services.runtime import db
from tests.conftest import CreateDatabase
from tests.integration.actions_repository.given import ACTIONS, PLAN, add_indicator, wrap

pytestmark = pytest.mark.infra

EVIDENCE = {
    "action_history": "UPDATE action_history SET event_type = 'Forged'",
    "measurements": "UPDATE measurements SET value = -1000",
    "annual_reports": "UPDATE annual_reports SET as_of = '2999-12-31'",
    "annual_report_files": "UPDATE annual_report_files SET sha256 = 'forged'",
}


@pytest.fixture
async def pool(create_database: CreateDatabase) -> AsyncIterator[asyncpg.Pool]:
    """A migrated database with one row in each evidence table."""
    pool = await db.create_pool(await create_database("actions_append_only"))
    try:
        await db.migrate(pool, {"runtime": db.RUNTIME_MIGRATIONS, "actions": MIGRATIONS})
        repo = ActionsRepository(pool)
        await repo.load_reference(PLAN)
        await repo.insert_new_actions(ACTIONS)
        registered = events.registered({**ACTIONS[0], "title_nl": ""}, 1)
        await repo.add_history(1, wrap(registered), [{"field": "status", "old": None, "new": "not_started"}])
        await add_indicator(repo, "a", 1)
        await repo.record_measurement(
            code="a",
            value=Decimal(3),
            delta=Decimal(3),
            measured_on=date(2024, 5, 1),
            origin="derived",
            source="test",
            source_event_id=uuid.uuid4(),
            actor=SYSTEM_ACTOR.model_dump(mode="json"),
        )
        await repo.insert_annual_report(
            "annual-report-2024-as-of-2024-12-31", 2024, date(2024, 12, 31), {}, {"a.csv": ("00", b"x")}
        )
        yield pool
    finally:
        await pool.close()


@pytest.mark.parametrize("table", list(EVIDENCE))
async def test_evidence_cannot_be_updated_deleted_or_truncated(pool: asyncpg.Pool, table: str) -> None:
    for statement in (EVIDENCE[table], f"DELETE FROM {table}", f"TRUNCATE {table} CASCADE"):
        with pytest.raises(asyncpg.RaiseError, match=f"{table} is append-only"):
            await pool.execute(statement)
    assert await pool.fetchval(f"SELECT count(*) FROM {table}") == 1


async def test_rows_are_still_appended(pool: asyncpg.Pool) -> None:
    repo = ActionsRepository(pool)
    changed = events.details_changed(1, "Action 1", [])
    await repo.add_history(1, wrap(changed), [])
    assert [h["event_type"] for h in await repo.history(1)] == ["ActionRegistered", "ActionDetailsChanged"]
