"""How long importing the whole plan and producing the annual report take, on the local
PostgreSQL (no broker needed: events wait in the outbox).

    scripts/infra start postgres && .venv/bin/python -m benchmarks.actions [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from datetime import UTC, datetime

import asyncpg
from passerelle_contracts import Actor

from benchmarks.pipeline import env, fresh_database
from services.actions.app import MIGRATIONS
from services.actions.handlers.annual_report import build_annual_report
from services.actions.handlers.csv_io import ImportCsv, export_csv, import_csv
from services.actions.handlers.plan import LoadPlan, load_plan, load_structure, read_seed
from services.actions.report.files import render_all
from services.actions.sql import ActionsRepository
from services.runtime import db
from services.runtime.uow import Context, PostgresUnitOfWork
from tests.support import drop_database

ACTOR = Actor(organisation="coordination-inclusion-numerique", role="coordination")


def unit_of_work(pool: asyncpg.Pool, actor: Actor = ACTOR) -> PostgresUnitOfWork[ActionsRepository]:
    """As the service's CLI builds one: its events wait in the outbox (no relay runs here)."""
    return PostgresUnitOfWork(
        pool, ActionsRepository, source="actions", context=Context(actor=actor), topic=lambda name: f"bench.{name}"
    )


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    base = env("PASSERELLE_DATABASE_URL_BASE")
    plan, indicators = read_seed()
    source_dsn, admin, source_name = await fresh_database(base, "source")
    source = await db.create_pool(source_dsn)
    await db.migrate(source, {"runtime": db.RUNTIME_MIGRATIONS, "actions": MIGRATIONS})
    await load_plan(unit_of_work(source), LoadPlan(plan, indicators))
    files = {kind: await export_csv(ActionsRepository(source), kind) for kind in ("actions", "indicators")}

    imports, reports, renders = [], [], []
    rendered: dict[str, bytes] = {}
    today = datetime.now(UTC).date()

    for _ in range(args.rounds):
        dsn, _, name = await fresh_database(base, "target")
        pool = await db.create_pool(dsn)
        await db.migrate(pool, {"runtime": db.RUNTIME_MIGRATIONS, "actions": MIGRATIONS})
        await load_structure(unit_of_work(pool), plan)
        started = time.perf_counter()
        for kind, text in files.items():
            report = await import_csv(unit_of_work(pool), ImportCsv(kind, text))
            assert not report.errors, report.errors
        imports.append(time.perf_counter() - started)
        started = time.perf_counter()
        annual = await build_annual_report(ActionsRepository(pool), today.year, today)
        reports.append(time.perf_counter() - started)
        started = time.perf_counter()
        rendered = render_all(annual)
        renders.append(time.perf_counter() - started)
        await pool.close()
        await drop_database(admin, name)
    await source.close()
    await drop_database(admin, source_name)
    await admin.close()

    def figures(values: list[float]) -> str:
        return f"median {statistics.median(values) * 1000:,.0f} ms, min {min(values) * 1000:,.0f} ms ({len(values)} rounds)"

    rows = sum(text.count("\n") - 1 for text in files.values())
    print(f"import of the whole plan ({rows} CSV rows: 66 actions + indicators): {figures(imports)}")
    print(f"annual report, assembled from the history:  {figures(reports)}")
    print(f"annual report, rendered ({len(rendered)} files, 2 PDFs):  {figures(renders)}")


if __name__ == "__main__":
    asyncio.run(main())
