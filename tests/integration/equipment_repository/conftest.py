"""The suite's storages: the fake repository, or PostgreSQL with the service's migrations."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import cast

import pytest

from services.equipment.app import MIGRATIONS
from services.equipment.handlers.common import Uow
from services.equipment.sql import EquipmentRepository
from services.runtime import db
from services.runtime.testing import FakeStore
from services.runtime.uow import Context, PostgresUnitOfWork
from tests.conftest import CreateDatabase
from tests.fakes.equipment import FakeEquipmentRepository, unit_of_work
from tests.integration.equipment_repository.given import (
    COORDINATION,
    Storage,
)


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
