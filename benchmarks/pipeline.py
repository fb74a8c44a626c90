"""Throughput of the event pipeline on the local stack: outbox writes, relay publication, and
the actions consumer applying deliveries (inbox + measurement + outbox in one transaction).

    scripts/infra start && .venv/bin/python -m benchmarks.pipeline [--events 5000]

Prints figures; asserts nothing about speed (the machine decides that).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import asyncpg
from passerelle_contracts import SYSTEM_ACTOR, Envelope
from passerelle_contracts.equipment_v1 import TOPIC as EQUIPMENT_TOPIC
from passerelle_contracts.funding_v1 import TOPIC as FUNDING_TOPIC
from passerelle_contracts.funding_v1 import GrantAwarded

from services.actions.app import create_app
from services.actions.settings import ActionsSettings
from services.runtime import db
from services.runtime.logs import configure_logging
from services.runtime.outbox import OutboxRelay, backlog, enqueue_many
from services.runtime.topics import ensure_topics
from tests.support import drop_database, kafka, produce

ROOT = Path(__file__).resolve().parent.parent


KAFKA_SETTINGS = (
    "PASSERELLE_KAFKA_SECURITY_PROTOCOL",
    "PASSERELLE_KAFKA_USERNAME",
    "PASSERELLE_KAFKA_PASSWORD_FILE",
    "PASSERELLE_KAFKA_CA_FILE",
)


def env(name: str) -> str:
    if name in os.environ:
        return os.environ[name]
    for line in (ROOT / ".run" / "env").read_text().splitlines():
        if line.startswith(name + "="):
            return line.split("=", 1)[1]
    raise SystemExit(f"{name} unknown: run scripts/infra start")


async def fresh_database(base: str, label: str) -> tuple[str, asyncpg.Connection, str]:
    admin = await asyncpg.connect(f"{base}/postgres")
    name = f"bench_{label}_{uuid.uuid4().hex[:6]}"
    await admin.execute(f'CREATE DATABASE "{name}"')
    return f"{base}/{name}", admin, name


async def on_fresh_database(label: str, migrations: Path, run: Callable[[asyncpg.Pool], Awaitable[None]]) -> None:
    """``run`` on a database of its own, migrated as the service ``label`` migrates its own, then dropped."""
    dsn, admin, name = await fresh_database(env("PASSERELLE_DATABASE_URL_BASE"), label)
    pool = await db.create_pool(dsn)
    try:
        await db.migrate(pool, {"runtime": db.RUNTIME_MIGRATIONS, label: migrations})
        await run(pool)
    finally:
        await pool.close()
        await drop_database(admin, name)
        await admin.close()


def against_floor(label: str, count: int, unit: str, seconds: float, floor: int, width: int = 58) -> None:
    """One figure printed beside its floor: what this machine must keep."""
    rate_ = count / seconds
    verdict = "ok" if rate_ >= floor else "BELOW THE FLOOR"
    print(f"{label:<{width}} {seconds:6.2f} s {rate_:9,.0f} {unit}/s   floor {floor:,} {unit}/s   {verdict}")


def grant_awarded(i: int, keys: int = 50) -> Envelope:
    """A ``GrantAwarded`` envelope, its key one of ``keys`` grants: what the outbox benchmarks send."""
    return Envelope.wrap(
        GrantAwarded(
            grant_id=str(uuid.uuid4()),
            call_code="AAP",
            call_kind="regional-call",
            beneficiary="epn-x",
            beneficiary_kind="epn",
            amount_eur="100.00",
            awarded_on="2024-01-01",
        ),
        source="funding",
        subject=f"grant-{i % keys}",
        actor=SYSTEM_ACTOR,
    )


def rate(n: int, seconds: float) -> str:
    return f"{n} in {seconds:.2f} s = {n / seconds:,.0f}/s"


async def bench_outbox(base: str, bootstrap: str, prefix: str, n: int) -> None:
    dsn, admin, name = await fresh_database(base, "outbox")
    pool = await db.create_pool(dsn)
    try:
        await db.migrate(pool, {"runtime": db.RUNTIME_MIGRATIONS})
        events = [grant_awarded(i) for i in range(n)]
        started = time.perf_counter()
        for i in range(0, n, 100):  # 100 events per transaction, as a busy service would
            async with pool.acquire() as conn, conn.transaction():
                await enqueue_many(conn, [(prefix + FUNDING_TOPIC, e) for e in events[i : i + 100]])
        print(f"outbox writes:      {rate(n, time.perf_counter() - started)}")
        relay = OutboxRelay(dsn=dsn, pool=pool, kafka=kafka(bootstrap), poll_interval_s=0.05)
        started = time.perf_counter()
        task = asyncio.create_task(relay.run())
        while (await backlog(pool))["pending"]:
            await asyncio.sleep(0.01)
        print(f"relay publication:  {rate(n, time.perf_counter() - started)}")
        task.cancel()
    finally:
        await pool.close()
        await drop_database(admin, name)
        await admin.close()


async def bench_consumer(base: str, bootstrap: str, prefix: str, n: int) -> None:
    dsn, admin, name = await fresh_database(base, "consumer")
    example = json.loads((ROOT / "contracts" / "examples" / "DevicesDelivered.v1.json").read_text())
    messages = []
    for i in range(n):
        example["event_id"] = str(uuid.uuid4())
        messages.append((f"delivery-{i % 50}".encode(), json.dumps(example).encode()))
    await produce(bootstrap, prefix + EQUIPMENT_TOPIC, messages)
    app = create_app(ActionsSettings(database_url=dsn, kafka_bootstrap=bootstrap, topic_prefix=prefix, http_port=0))
    runtime = app.state.runtime
    try:
        await runtime.start()
        started = time.perf_counter()
        while await runtime.pool.fetchval("SELECT count(*) FROM inbox") < n:
            await asyncio.sleep(0.05)
        elapsed = time.perf_counter() - started
        print(
            f"consumer (actions): {rate(n, elapsed)}  (2 indicators per delivery: inbox + 2 measurements + 2 outbox rows)"
        )
    finally:
        await runtime.stop()
        await drop_database(admin, name)
        await admin.close()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=5000)
    args = parser.parse_args()
    configure_logging("benchmark", os.environ.get("BENCH_LOG_LEVEL", "WARNING"), json=True)
    for name in KAFKA_SETTINGS:  # the settings and the clients below read them from the environment
        with contextlib.suppress(SystemExit):
            os.environ.setdefault(name, env(name))
    base, bootstrap = env("PASSERELLE_DATABASE_URL_BASE"), env("PASSERELLE_KAFKA_BOOTSTRAP")
    prefix = f"bench{uuid.uuid4().hex[:6]}."
    await ensure_topics(kafka(bootstrap), prefix)
    await bench_outbox(base, bootstrap, prefix, args.events)
    await bench_consumer(base, bootstrap, prefix, args.events)


if __name__ == "__main__":
    asyncio.run(main())
