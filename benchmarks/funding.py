"""Throughput of the funding service's imports, through the same code as the API and the CLI:
a 5,000-line funding cadastre (CSV and XLSX, then the same file again), and 500 EPNs' four
quarterly activity returns. Each figure is printed beside its floor.

    scripts/infra start postgres && .venv/bin/python -m benchmarks.funding [--lines 5000] [--epns 500]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from datetime import date

import asyncpg
from passerelle_contracts import Actor

from benchmarks.pipeline import against_floor, on_fresh_database
from services.funding import cadastre_files
from services.funding.app import MIGRATIONS
from services.funding.handlers import import_cadastre
from services.funding.repository import FundingRepository
from services.runtime.uow import Context, PostgresUnitOfWork, UnitOfWork

ACTOR = Actor(organisation="coordination-inclusion-numerique", role="coordination")
FUNDERS = ("region", "esf", "cocof", "vgc", "fwb", "commune", "foundation")
# Floors: what the Coordination and CABAN need is minutes, not hours; these are what this machine
# must keep (2 CPUs) so that a regression shows before partners feel it.
CADASTRE_FLOOR = 500  # lines a second
RETURNS_FLOOR = 200  # returns a second


def unit_of_work(pool: asyncpg.Pool) -> UnitOfWork[FundingRepository]:
    return PostgresUnitOfWork(
        pool, FundingRepository, source="funding", context=Context(actor=ACTOR), topic=lambda n: "bench"
    )


def cadastre_csv(n: int) -> bytes:
    rng = random.Random(36)
    lines = [
        "beneficiary,beneficiary_kind,commune,funder,funder_name,programme,year,committed_eur,paid_eur,cofinancing_pct"
    ]
    for i in range(n):
        paid = "" if rng.random() < 0.2 else f"{rng.randint(100, 40000)}.{rng.randint(0, 99):02}"
        lines.append(
            f"epn-{i % 500:03},epn,Commune {i % 19},{FUNDERS[i % len(FUNDERS)]},,Programme {i // 500},"
            f"{2020 + i % 7},{rng.randint(40001, 90000)}.50,{paid},{rng.randint(0, 60)}"
        )
    return ("\n".join(lines) + "\n").encode()


def line(label: str, count: int, unit: str, seconds: float, floor: int) -> None:
    against_floor(label, count, unit, seconds, floor)


async def timed(run: Callable[[], Awaitable[object]]) -> float:
    started = time.perf_counter()
    await run()
    return time.perf_counter() - started


async def bench_cadastre(pool: asyncpg.Pool, n: int) -> None:
    body = cadastre_csv(n)
    seconds = await timed(lambda: import_cadastre(unit_of_work(pool), body, "csv"))
    assert await pool.fetchval("SELECT count(*) FROM funding_lines") == n
    line(f"cadastre of {n:,} lines, CSV ({len(body) // 1024} KiB)", n, "lines", seconds, CADASTRE_FLOOR)
    seconds = await timed(lambda: import_cadastre(unit_of_work(pool), body, "csv"))
    line("the same file again (idempotent: nothing recorded)", n, "lines", seconds, CADASTRE_FLOOR)
    lines = await FundingRepository(pool).funding_lines(limit=n)
    xlsx = cadastre_files.write(lines, "xlsx")
    seconds = await timed(lambda: import_cadastre(unit_of_work(pool), xlsx, "xlsx"))
    line(f"its export as XLSX imported back ({len(xlsx) // 1024} KiB)", n, "lines", seconds, CADASTRE_FLOOR)


async def bench_returns(pool: asyncpg.Pool, epns: int) -> None:
    from services.funding.handlers.returns import import_returns  # the returns' CSV import

    await pool.executemany(
        """INSERT INTO epns (epn, epn_name, operator, commune, hours_per_week, computers, tablets, accessible,
               label_status, labelled_on, registered_by)
           VALUES ($1, $1, $1, 'Ixelles', 20, 6, 2, true, 'labelled', $2, $3)""",
        [(f"epn-{i:03}", date(2024, 1, 1), ACTOR.model_dump(mode="json")) for i in range(epns)],
    )
    rng = random.Random(28)
    rows = ["epn,year,quarter,visits,sessions,participants,gender:women,gender:men"]
    for i in range(epns):
        for quarter in (1, 2, 3, 4):
            participants = rng.randint(50, 600)
            women = rng.randint(0, participants)
            rows.append(
                f"epn-{i:03},2025,{quarter},{participants * 3},{rng.randint(5, 60)},{participants},{women},{participants - women}"
            )
    body = ("\n".join(rows) + "\n").encode()
    n = epns * 4
    seconds = await timed(lambda: import_returns(unit_of_work(pool), body, date(2026, 3, 1)))
    assert await pool.fetchval("SELECT count(*) FROM activity_returns") == n
    line(f"{epns:,} EPNs x 4 quarterly returns, CSV", n, "returns", seconds, RETURNS_FLOOR)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lines", type=int, default=5_000)
    parser.add_argument("--epns", type=int, default=500)
    args = parser.parse_args()

    async def run(pool: asyncpg.Pool) -> None:
        await bench_cadastre(pool, args.lines)
        await bench_returns(pool, args.epns)

    await on_fresh_database("funding", MIGRATIONS, run)


if __name__ == "__main__":
    asyncio.run(main())
