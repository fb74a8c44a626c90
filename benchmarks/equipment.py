"""Throughput of the equipment service: importing 10,000 devices (CSV, through the same code as
the API and the CLI) and allocating a stock of 10,000 devices to requests under caps.

    scripts/infra start postgres && .venv/bin/python -m benchmarks.equipment [--devices 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
import uuid
from datetime import date, timedelta

import asyncpg
from passerelle_contracts import Actor

from benchmarks.pipeline import env, fresh_database
from services.equipment import csv_formats, domain
from services.equipment.app import MIGRATIONS
from services.equipment.handlers import allocation, intake
from services.equipment.handlers.common import Uow
from services.equipment.sql import EquipmentRepository
from services.runtime import db
from services.runtime.uow import Context, PostgresUnitOfWork
from tests.support import drop_database

ACTOR = Actor(organisation="coordination-inclusion-numerique", role="coordination")
KINDS = ("laptop", "desktop", "tablet", "chromebook", "screen")


def unit_of_work(pool: asyncpg.Pool) -> Uow:
    return PostgresUnitOfWork(
        pool, EquipmentRepository, source="equipment", context=Context(actor=ACTOR), topic=lambda name: "bench"
    )


def csv_text(n: int) -> str:
    rng = random.Random(7)
    lines = ["asset_tag,serial,kind,make,model,cpu,ram_gb,storage,year"]
    for i in range(n):
        kind = rng.choice(KINDS)
        storage = "" if kind == "screen" else rng.choice(["ssd:256", "hdd:500", "ssd:128;hdd:1000", "emmc:64"])
        lines.append(f"BX-{i:06},SN{i:08},{kind},Dell,Latitude 5490,i5-8350U,8,{storage},{rng.randint(2014, 2020)}")
    return "\n".join(lines) + "\n"


async def bench_import(n: int) -> None:
    base = env("PASSERELLE_DATABASE_URL_BASE")
    dsn, admin, name = await fresh_database(base, "equipment")
    pool = await db.create_pool(dsn)
    try:
        await db.migrate(pool, {"runtime": db.RUNTIME_MIGRATIONS, "equipment": MIGRATIONS})
        await pool.execute(
            "INSERT INTO organisations (code, name, kind) VALUES ('cirb-paradigm', 'Paradigm', 'regional-public-body')"
        )
        text = csv_text(n)
        started = time.perf_counter()
        rows, errors = csv_formats.parse_csv(text)
        parsed = time.perf_counter() - started
        for start in range(0, len(rows), 1000):
            batch = intake.DeclareBatch("cirb-paradigm", "BENCH", rows[start : start + 1000])
            await intake.declare_batch(unit_of_work(pool), batch)
        elapsed = time.perf_counter() - started
        assert not errors and await pool.fetchval("SELECT count(*) FROM devices") == n
        print(
            f"import of {n:,} devices from CSV: {elapsed:.2f} s = {n / elapsed:,.0f} devices/s (parsing {parsed:.2f} s)"
        )
        started = time.perf_counter()
        again = await intake.declare_batch(unit_of_work(pool), intake.DeclareBatch("cirb-paradigm", "BENCH", rows))
        print(
            f"the same file again (nothing new, idempotent): {time.perf_counter() - started:.2f} s, {again.existing:,} known"
        )
        await bench_allocation_in_database(pool)
    finally:
        await pool.close()
        await drop_database(admin, name)
        await admin.close()


async def bench_allocation_in_database(pool: asyncpg.Pool) -> None:
    """The whole stock made ready (as if wiped and refurbished), 300 accepted requests, then a
    preview and its confirmation, through the same code as the API."""
    rng = random.Random(5)
    await pool.execute("UPDATE devices SET sanitisation = 'wiped', physical = 'refurbished', grade = 'B'")
    kinds = ("secondary-school", "homework-school", "pupils-association", "retirement-home", "epn")
    await pool.executemany(
        "INSERT INTO organisations (code, name, kind) VALUES ($1, $1, $2)",
        [(f"org{i}", kinds[i % len(kinds)]) for i in range(300)],
    )
    for i in range(300):
        await pool.execute(
            """INSERT INTO requests (id, recipient, recipient_kind, devices, status, granted, submitted_at)
               VALUES ($1, $2, $3, $4, 'accepted', $4, now() - make_interval(days => $5))""",
            uuid.uuid4(),
            f"org{i}",
            kinds[i % len(kinds)],
            {rng.choice(KINDS[:4]): rng.randint(5, 60)},
            rng.randint(0, 300),
        )
    await pool.execute("INSERT INTO caps VALUES ('retirement-home', 'tablet', '2024', 400)")
    started = time.perf_counter()
    preview = await allocation.preview_allocation(EquipmentRepository(pool), "2024")
    previewed = time.perf_counter() - started
    confirm = allocation.ConfirmAllocation("2024", preview["preview_token"])
    confirmed = await allocation.confirm_allocation(unit_of_work(pool), confirm)
    elapsed = time.perf_counter() - started
    given = sum(len(a["device_ids"]) for a in confirmed["allocations"])
    print(
        f"allocation in the database, stock of 10,000 and 300 requests: preview {previewed:.2f} s, "
        f"preview + confirm {elapsed:.2f} s ({given:,} devices allocated)"
    )


def bench_allocation(n: int) -> None:
    rng = random.Random(11)
    stock = [domain.Device(f"d{i}", rng.choice(KINDS[:4]), rng.choice("ABC")) for i in range(n)]
    kinds = ("secondary-school", "homework-school", "pupils-association", "retirement-home", "epn")
    requests = [
        domain.Request(
            f"r{i}",
            f"org{i}",
            rng.choice(kinds),
            {rng.choice(KINDS[:4]): rng.randint(5, 80)},
            {},
            date(2024, 1, 1) + timedelta(days=rng.randint(0, 300)),
            rng.randint(0, 2),
        )
        for i in range(300)
    ]
    caps = {"retirement-home": {"tablet": 400, "laptop": 200}, "epn": {"desktop": 600}}
    started = time.perf_counter()
    proposal = domain.allocate(requests, stock, caps, {})
    elapsed = time.perf_counter() - started
    given = sum(len(v) for v in proposal.allocations.values())
    print(
        f"allocation of a stock of {n:,} to 300 requests under caps: {elapsed * 1000:.0f} ms ({given:,} devices allocated)"
    )


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--devices", type=int, default=10_000)
    args = parser.parse_args()
    await bench_import(args.devices)
    bench_allocation(args.devices)


if __name__ == "__main__":
    asyncio.run(main())
