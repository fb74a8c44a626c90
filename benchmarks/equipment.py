"""Throughput of the equipment service: importing 10,000 devices (CSV, through the same code as
the API and the CLI), the wiping station's log of all their media with a certificate for each
device (the bulk path, certificates rendered in worker processes as the service renders them),
the workshop's sheet grading them all, and allocating a stock of 10,000 devices to requests
under caps.

    scripts/infra start postgres && .venv/bin/python -m benchmarks.equipment [--devices 10000] [--profile]

``--profile`` prints cProfile's top entries for the log's import (this process only: the
certificates' rendering happens in the workers, whose time shows here as waiting).

The whole season, with the services as processes and the downstream consumers, is
``benchmarks.season``.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import pstats
import random
import time
import uuid
from datetime import date, timedelta

import asyncpg
from passerelle_contracts import Actor

from benchmarks.pipeline import env, fresh_database
from services.equipment import certificates, csv_formats, domain
from services.equipment.app import MIGRATIONS
from services.equipment.handlers import allocation, intake, refurbishing
from services.equipment.handlers.common import Uow
from services.equipment.sql import EquipmentRepository
from services.runtime import db
from services.runtime.uow import Context, PostgresUnitOfWork
from tests.support import drop_database

ACTOR = Actor(organisation="coordination-inclusion-numerique", role="coordination")
REFURBISHER = Actor(organisation="asbl-refurb", role="refurbisher")
LOG_HEAD = "device,medium_id,method,tool,tool_version,passes,verification,operator,started_at,ended_at,result,warnings"
KINDS = ("laptop", "desktop", "tablet", "chromebook", "screen")


def unit_of_work(pool: asyncpg.Pool, actor: Actor = ACTOR) -> Uow:
    return PostgresUnitOfWork(
        pool, EquipmentRepository, source="equipment", context=Context(actor=actor), topic=lambda name: "bench"
    )


def csv_text(n: int) -> str:
    rng = random.Random(7)
    lines = ["asset_tag,serial,kind,make,model,cpu,ram_gb,storage,year"]
    for i in range(n):
        kind = rng.choice(KINDS)
        storage = "" if kind == "screen" else rng.choice(["ssd:256", "hdd:500", "ssd:128;hdd:1000", "emmc:64"])
        lines.append(f"BX-{i:06},SN{i:08},{kind},Dell,Latitude 5490,i5-8350U,8,{storage},{rng.randint(2014, 2020)}")
    return "\n".join(lines) + "\n"


async def bench_import(n: int, profile: bool = False, workers: int = 2) -> None:
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
        await bench_sanitisation(pool, profile, workers)
        await bench_conditions(pool)
        await bench_allocation_in_database(pool)
    finally:
        await pool.close()
        await drop_database(admin, name)
        await admin.close()


async def bench_sanitisation(pool: asyncpg.Pool, profile: bool, workers: int) -> None:
    """Every device at the refurbisher, then the log of all their media in one file, through the
    same code as ``POST /sanitisations.csv``: a certificate for each device that has media."""
    await pool.execute("INSERT INTO organisations (code, name, kind) VALUES ('asbl-refurb', 'Refurb', 'refurbisher')")
    await pool.execute("UPDATE devices SET custodian = 'asbl-refurb'")
    media = await pool.fetch(
        "SELECT d.short_code, m.medium_id FROM media m JOIN devices d ON d.id = m.device_id ORDER BY 1, 2"
    )
    row = ",{},purge,nwipe,0.35,1,full,op-1,2024-02-01T09:00:00+01:00,2024-02-01T10:00:00+01:00,passed,"
    text = "\n".join([LOG_HEAD, *(code + row.format(medium) for code, medium in media)]) + "\n"
    renderer = certificates.CertificateRenderer(workers)
    previous = certificates.use(renderer)
    profiler = cProfile.Profile() if profile else None
    try:
        started = time.perf_counter()
        if profiler:
            profiler.enable()
        command = refurbishing.ImportSanitisations(text)
        report = await refurbishing.import_sanitisations(unit_of_work(pool, REFURBISHER), command)
        if profiler:
            profiler.disable()
        elapsed = time.perf_counter() - started
    finally:
        certificates.use(previous)
        renderer.close()
    issued = await pool.fetchval("SELECT count(*) FROM certificates")
    assert report["errors"] == [] and report["records"] == len(media), report["errors"][:3]
    print(
        f"wiping station's log of {len(media):,} rows ({report['devices']:,} devices, {issued:,} certificates, "
        f"{workers} worker processes): {elapsed:.1f} s = {len(media) / elapsed:,.0f} rows/s, "
        f"{report['devices'] / elapsed:,.0f} devices/s"
    )
    if profiler:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(25)
        print(out.getvalue())
    started = time.perf_counter()
    again = await refurbishing.import_sanitisations(unit_of_work(pool, REFURBISHER), command)
    print(f"the same log again (nothing new): {time.perf_counter() - started:.2f} s, {again['unchanged']:,} unchanged")


async def bench_conditions(pool: asyncpg.Pool) -> None:
    """The workshop's sheet grading every device, through the same code as ``POST /conditions.csv``."""
    codes = [r["short_code"] for r in await pool.fetch("SELECT short_code FROM devices ORDER BY short_code")]
    text = "device,physical,grade\n" + "".join(f"{code},refurbished,{'ABC'[i % 3]}\n" for i, code in enumerate(codes))
    started = time.perf_counter()
    command = refurbishing.ImportConditions(text)
    report = await refurbishing.import_conditions(unit_of_work(pool, REFURBISHER), command)
    elapsed = time.perf_counter() - started
    assert report["errors"] == [] and report["devices"] == len(codes)
    print(f"workshop's sheet grading {len(codes):,} devices: {elapsed:.2f} s = {len(codes) / elapsed:,.0f} devices/s")


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
    parser.add_argument("--workers", type=int, default=2, help="certificate worker processes (the service's default)")
    parser.add_argument("--profile", action="store_true", help="cProfile of the wiping station's log")
    args = parser.parse_args()
    await bench_import(args.devices, args.profile, args.workers)
    bench_allocation(args.devices)


if __name__ == "__main__":
    asyncio.run(main())
