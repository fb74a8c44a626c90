"""The actions service's migration 0007 on a database that holds meetings recorded after they
were held: each becomes a meeting held, recorded held when it was recorded, still counted in the
annual report and never held a second time; scheduling works beside them."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest

from services.actions.app import MIGRATIONS
from services.actions.sql import ActionsRepository
from services.runtime import db
from tests.conftest import CreateDatabase
from tests.integration.actions_repository.given import ACTIONS, COORDINATION, PLAN

pytestmark = pytest.mark.infra

MARCH_MEETING = uuid.UUID("b1a2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d")
RECORDED_AT = datetime(2024, 3, 13, 9, tzinfo=UTC)


@pytest.fixture
async def meetings_before_0007(create_database: CreateDatabase, tmp_path: Path) -> AsyncIterator[asyncpg.Pool]:
    """A database migrated up to 0006 with a meeting held and its decision, then migrated to the end."""
    folder = tmp_path / "migrations"
    folder.mkdir()
    for path in sorted(MIGRATIONS.glob("*.sql")):
        if int(path.name[:4]) < 7:
            shutil.copy(path, folder)
    pool = await db.create_pool(await create_database("actions_0007"))
    try:
        await db.migrate(pool, {"runtime": db.RUNTIME_MIGRATIONS, "actions": folder})
        repo = ActionsRepository(pool)
        await repo.load_reference(PLAN)
        await repo.insert_new_actions(ACTIONS)
        await pool.execute(
            """INSERT INTO meetings (id, kind, held_on, attendees, agenda, recorded_by, recorded_at)
               VALUES ($1, 'working_group', '2024-03-12', $2, $3, $4, $5)""",
            MARCH_MEETING,
            ["caban", "coordination"],
            [{"action_number": 1, "title": "Matériel"}],
            COORDINATION.model_dump(mode="json"),
            RECORDED_AT,
        )
        await repo.insert_decision(MARCH_MEETING, 1, "Lancer l'appel.")
        for path in sorted(MIGRATIONS.glob("*.sql")):
            shutil.copy(path, folder)
        assert await db.migrate(pool, {"runtime": db.RUNTIME_MIGRATIONS, "actions": folder}) != []
        yield pool
    finally:
        await pool.close()


async def test_a_meeting_recorded_before_0007_is_held_and_still_counts_in_the_report(
    meetings_before_0007: asyncpg.Pool,
) -> None:
    repo = ActionsRepository(meetings_before_0007)
    [meeting] = await repo.meetings()
    assert {k: meeting[k] for k in ("id", "status", "held_on", "attendees", "absent", "minutes", "starts_at")} == {
        "id": MARCH_MEETING,
        "status": "held",
        "held_on": date(2024, 3, 12),
        "attendees": ["caban", "coordination"],
        "absent": [],
        "minutes": "",
        "starts_at": None,
    }
    assert meeting["decisions"] == [{"action_number": 1, "decision": "Lancer l'appel."}]
    year = (date(2024, 1, 1), date(2024, 12, 31))
    assert await repo.meetings_until(RECORDED_AT + timedelta(seconds=1), *year) == [
        {"held_on": date(2024, 3, 12), "kind": "working_group", "attendees": 2, "decisions": 1}
    ], "recorded held when it was recorded"
    assert await repo.meetings_until(RECORDED_AT, *year) == [], "and not before"
    with pytest.raises(LookupError):
        await repo.mark_meeting_held(MARCH_MEETING, date(2024, 3, 12), ["caban"], [], [], "")


async def test_after_0007_a_meeting_is_scheduled_beside_those_held_and_every_writer_says_its_status(
    meetings_before_0007: asyncpg.Pool,
) -> None:
    repo = ActionsRepository(meetings_before_0007)
    starts_at = datetime(2030, 3, 12, 8, 30, tzinfo=UTC)
    scheduled = await repo.schedule_meeting(
        "copil", starts_at, None, "En ligne", [], [], COORDINATION.model_dump(mode="json")
    )
    assert [m["status"] for m in await repo.meetings()] == ["held", "scheduled"]
    assert scheduled["starts_at"] == starts_at
    with pytest.raises(asyncpg.NotNullViolationError):  # no default status: a writer that forgets it fails
        await meetings_before_0007.execute(
            "INSERT INTO meetings (id, kind, held_on, recorded_by) VALUES ($1, 'copil', '2024-01-01', '{}')",
            uuid.uuid4(),
        )
    with pytest.raises(asyncpg.CheckViolationError):  # held, it has its day
        await meetings_before_0007.execute(
            "INSERT INTO meetings (id, kind, status, recorded_by) VALUES ($1, 'copil', 'held', '{}')", uuid.uuid4()
        )
