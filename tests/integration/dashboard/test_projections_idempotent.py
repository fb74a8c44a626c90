"""Every projection can apply an event again without changing a figure: the feed row keeps the
consumer from calling them twice, but a replay under another event id, a rebuild over tables that
are not empty, or a bug that slips past the gate must find the read models unmoved."""

from __future__ import annotations

from typing import Any

import asyncpg
from passerelle_contracts import Envelope
from passerelle_contracts.envelope import EventData

from services.dashboard.pages import equipment, funding, plan
from services.dashboard.projector import MIGRATIONS, PROJECTIONS, project_new
from services.runtime import db
from tests.conftest import CreateDatabase
from tests.integration.dashboard import test_equipment_figures, test_funding_figures, test_plan_figures
from tests.integration.dashboard.conftest import apply


def every_story() -> list[tuple[Envelope, EventData]]:
    plan_story = [
        test_plan_figures.registered(),
        test_plan_figures.measured(3, test_plan_figures.AS_OF),
    ]
    return plan_story + test_equipment_figures.story() + test_funding_figures.story()


async def figures(pool: asyncpg.Pool) -> dict[str, Any]:
    return {
        "plan": await plan.figures(pool, test_plan_figures.AS_OF),
        "equipment": await equipment.figures(pool, test_equipment_figures.AS_OF),
        "funding": await funding.figures(pool, test_funding_figures.AS_OF),
    }


async def test_every_projection_applied_twice_changes_no_figure(pool: asyncpg.Pool) -> None:
    story = every_story()
    await apply(pool, story)
    once = await figures(pool)

    async with pool.acquire() as conn, conn.transaction():
        for envelope, data in story:
            for projection in PROJECTIONS.get(envelope.event_type, ()):
                await projection(conn, envelope, data)

    assert await figures(pool) == once
    assert sum(len(PROJECTIONS.get(e.event_type, ())) for e, _ in story) >= 20, "the story exercises the models"


async def test_a_story_projected_together_gives_the_figures_and_feed_of_the_story_projected_one_by_one(
    create_database: CreateDatabase,
) -> None:
    """What a rebuild does (``projector.project_new``: the feed rows in one statement, the
    projections' writes queued per table) must leave the read models exactly as the live consumer's
    one-by-one ``project`` does."""
    story = every_story()
    pools = []
    try:
        for label in ("one_by_one", "together"):
            pool = await db.create_pool(await create_database(f"dashboard_{label}"))
            await db.migrate(pool, {"runtime": db.RUNTIME_MIGRATIONS, "dashboard": MIGRATIONS})
            pools.append(pool)
        one_by_one, together = pools
        await apply(one_by_one, story)
        async with together.acquire() as conn, conn.transaction():
            await project_new(conn, [(envelope, data, data.topic) for envelope, data in story])
        assert await figures(together) == await figures(one_by_one)
        feed = (
            "SELECT event_id, topic, event_type, organisations, action_number, data FROM feed_events ORDER BY position"
        )
        assert [dict(r) for r in await together.fetch(feed)] == [dict(r) for r in await one_by_one.fetch(feed)]
        assert len(await together.fetch(feed)) == len(story)
    finally:
        for pool in pools:
            await pool.close()
