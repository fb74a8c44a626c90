"""The suite's storages: the fake repository, or PostgreSQL with the service's migrations, with the plan's structure loaded."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from services.actions.app import MIGRATIONS
from services.actions.sql import ActionsRepository
from services.runtime import db
from tests.conftest import CreateDatabase
from tests.fakes.actions import FakeActionsRepository
from tests.integration.actions_repository.given import ACTIONS, PLAN


@pytest.fixture(params=["fake", "postgres"])
async def repo(request: pytest.FixtureRequest, create_database: CreateDatabase) -> AsyncIterator[Any]:
    """An empty repository of either kind, with the plan's structure loaded."""
    if request.param == "fake":
        fake = FakeActionsRepository()
        await fake.load_reference(PLAN)
        yield fake
        return
    pool = await db.create_pool(await create_database("actions_repo"))
    try:
        await db.migrate(pool, {"runtime": db.RUNTIME_MIGRATIONS, "actions": MIGRATIONS})
        sql = ActionsRepository(pool)
        await sql.load_reference(PLAN)
        yield sql
    finally:
        await pool.close()


@pytest.fixture
async def planned(repo: Any) -> Any:
    """The repository with four actions."""
    assert await repo.insert_new_actions(ACTIONS) == [1, 2, 3, 4]
    return repo
