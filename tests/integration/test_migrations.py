from __future__ import annotations

from pathlib import Path

import pytest

from services.runtime import db
from tests.conftest import CreateDatabase

pytestmark = pytest.mark.infra


async def test_migrations_apply_once_on_a_fresh_database_and_refuse_an_edited_one(
    create_database: CreateDatabase, tmp_path: Path
) -> None:
    (tmp_path / "0001_things.sql").write_text("-- why: a table for the test\nCREATE TABLE things (id int);\n")
    pool = await db.create_pool(await create_database("migrations"))
    try:
        components = {"runtime": db.RUNTIME_MIGRATIONS, "demo": tmp_path}
        runtime = [f"runtime/{p.stem}" for p in sorted(db.RUNTIME_MIGRATIONS.glob("*.sql"))]
        assert await db.migrate(pool, components) == [*runtime, "demo/0001_things"]
        assert await db.migrate(pool, components) == []
        assert await pool.fetchval("SELECT count(*) FROM schema_migrations") == len(runtime) + 1

        (tmp_path / "0001_things.sql").write_text("-- why: edited\nCREATE TABLE things (id bigint);\n")
        with pytest.raises(RuntimeError, match="was edited; add a new one"):
            await db.migrate(pool, components)

        (tmp_path / "0001_things.sql").write_text("-- why: a table for the test\nCREATE TABLE things (id int);\n")
        (tmp_path / "0002_broken.sql").write_text(
            "-- why: fails half-way\nCREATE TABLE more (id int);\nSELECT nonsense;\n"
        )
        with pytest.raises(Exception, match="nonsense"):
            await db.migrate(pool, components)
        assert await pool.fetchval("SELECT to_regclass('more')") is None, "a failed migration leaves nothing behind"
    finally:
        await pool.close()
