"""The funding service's migration 0004 on a database that holds the walking skeleton's labels:
each label becomes a labelled EPN of the register, with its decision in the history, and the
register's version continues after them."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import asyncpg
import pytest

from services.funding.app import MIGRATIONS
from services.funding.repository import FundingRepository
from services.runtime import db
from tests.conftest import CreateDatabase

pytestmark = pytest.mark.infra

COORDINATION = {"organisation": "coordination-inclusion-numerique", "role": "coordination", "key_id": "k1"}


@pytest.fixture
async def labels_before_0004(create_database: CreateDatabase, tmp_path: Path) -> AsyncIterator[asyncpg.Pool]:
    """A database migrated up to 0003 with two labels, then migrated to the end."""
    folder = tmp_path / "migrations"
    folder.mkdir()
    for path in sorted(MIGRATIONS.glob("*.sql")):
        if int(path.name[:4]) < 4:
            shutil.copy(path, folder)
    pool = await db.create_pool(await create_database("funding_0004"))
    try:
        await db.migrate(pool, {"runtime": db.RUNTIME_MIGRATIONS, "funding": folder})
        for epn, commune, day in (("epn-ixelles", "Ixelles", 1), ("epn-forest", None, 2)):
            await pool.execute(
                "INSERT INTO epn_labels (epn, commune, labelled_on, recorded_by, recorded_at) VALUES ($1, $2, $3, $4, $5)",
                epn,
                commune,
                date(2025, 3, day),
                COORDINATION,
                datetime(2025, 3, day, 9, tzinfo=UTC),
            )
        for path in sorted(MIGRATIONS.glob("*.sql")):
            shutil.copy(path, folder)
        await db.migrate(pool, {"runtime": db.RUNTIME_MIGRATIONS, "funding": folder})
        yield pool
    finally:
        await pool.close()


async def test_each_label_becomes_a_labelled_epn_with_its_decision_and_the_register_counts_on(
    labels_before_0004: asyncpg.Pool,
) -> None:
    repo = FundingRepository(labels_before_0004)

    epns = await repo.epns()
    assert [(e.epn, e.label_status, e.labelled_on, e.details.commune) for e in epns] == [
        ("epn-forest", "labelled", date(2025, 3, 2), None),
        ("epn-ixelles", "labelled", date(2025, 3, 1), "Ixelles"),
    ]
    assert {(e.details.operator, e.details.hours_per_week, e.details.computers) for e in epns} == {
        ("epn-forest", Decimal(0), 0),
        ("epn-ixelles", Decimal(0), 0),
    }, "what the labels did not say is unknown (0), so the next decision checks real figures"
    [decision] = await repo.history("epn-ixelles")
    assert (decision.kind, decision.previous_status, decision.status, decision.register_version) == (
        "label",
        "candidate",
        "labelled",
        1,
    )
    assert await repo.count_labelled() == 2
    assert await repo.next_register_version() == 3
    assert await labels_before_0004.fetchval("SELECT to_regclass('epn_labels')") is None
