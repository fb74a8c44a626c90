"""A rebuild fills the read models without their secondary indexes and creates them again after
(``rebuild._drop_secondary_indexes``): afterwards every index is back as the migrations made it,
and the keys that the projections' ``ON CONFLICT`` needs were never dropped."""

from __future__ import annotations

import asyncpg

from services.dashboard.projector import TABLES
from services.dashboard.rebuild import _drop_secondary_indexes

INDEXES = """SELECT c.relname AS name, pg_get_indexdef(i.indexrelid) AS definition, i.indisunique AS is_unique
             FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_class t ON t.oid = i.indrelid
             WHERE t.relname = ANY($1::text[]) AND pg_table_is_visible(t.oid) ORDER BY 1"""


async def test_the_secondary_indexes_are_dropped_for_the_load_and_made_again_as_they_were(pool: asyncpg.Pool) -> None:
    before = [dict(r) for r in await pool.fetch(INDEXES, list(TABLES))]
    async with pool.acquire() as conn, conn.transaction():
        definitions = await _drop_secondary_indexes(conn)
        during = [dict(r) for r in await conn.fetch(INDEXES, list(TABLES))]
        assert "feed_events_organisations" in " ".join(definitions), "the feed's GIN index is among them"
        assert during == [index for index in before if index["is_unique"]], "only the keys stay"
        for definition in definitions:
            await conn.execute(definition)
    assert [dict(r) for r in await pool.fetch(INDEXES, list(TABLES))] == before
