"""The outbox relay against the raw producer (issue 15, goal P2): how many events a second the
relay publishes, and how many an idempotent aiokafka producer sends of the same records (same
topic, keys, values and headers, the relay's ``PRODUCER_SETTINGS``), on the local stack.

    scripts/infra start && .venv/bin/python -m benchmarks.relay [--events 20000] [--runs 3]

Each run takes a database of its own (dropped afterwards). Neither side's start-up is timed. The
relay (the services' default ``outbox_batch_size``, with metrics) first publishes one warm-up row,
so that it leads and its producer is connected; then the rows are written in one transaction,
untimed, and the clock runs from their commit (whose NOTIFY wakes the relay) until no row is left
unpublished. The raw producer, warmed up with one record too, then sends the records built from
those rows' JSON bodies with ``send()`` and waits for every future, in order, as the relay does
(cheaper than ``gather()``). The relay runs in this process's event loop, and so does the polling
of the outbox: one indexed ``EXISTS`` every 10 ms.

Prints figures; asserts nothing about speed (the machine decides that: on a shared machine, the
other processes' load moves both figures from one run to the next).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import time
import uuid

import asyncpg
from aiokafka import AIOKafkaProducer
from passerelle_contracts.funding_v1 import TOPIC as FUNDING_TOPIC

from benchmarks.pipeline import KAFKA_SETTINGS, env, fresh_database, grant_awarded
from services.runtime import db
from services.runtime.logs import configure_logging
from services.runtime.metrics import Metrics
from services.runtime.outbox import PRODUCER_SETTINGS, OutboxRelay, enqueue, enqueue_many
from services.runtime.settings import ServiceSettings
from services.runtime.topics import ensure_topics
from tests.support import delete_topics, drop_database, kafka

KEYS = 50  # aggregates: the records spread over the topic's partitions as a busy service's do
WRITE_CHUNK = 1000
POLL_S = 0.01
# Cheap: the partial index outbox_unpublished, and the first row found ends the scan.
ANY_UNPUBLISHED = "SELECT EXISTS (SELECT 1 FROM outbox WHERE published_at IS NULL)"

Record = tuple[str, bytes, bytes, list[tuple[str, bytes]]]  # topic, key, value, headers


def record_of(topic: str, key: str, body: str) -> Record:
    """The record the relay makes of an outbox row, built here from the row's JSON body."""
    envelope = json.loads(body)
    headers = [
        ("content-type", b"application/json"),
        ("event_type", envelope["event_type"].encode()),
        ("event_id", envelope["event_id"].encode()),
        ("correlation_id", envelope["correlation_id"].encode()),
    ]
    return topic, key.encode(), body.encode(), headers


async def until_published(pool: asyncpg.Pool, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while await pool.fetchval(ANY_UNPUBLISHED):
        if time.monotonic() > deadline:
            raise SystemExit(f"the relay did not publish the outbox within {timeout_s:.0f} s")
        await asyncio.sleep(POLL_S)


async def relay_rate(dsn: str, pool: asyncpg.Pool, bootstrap: str, topic: str, n: int) -> tuple[float, list[Record]]:
    """The relay's events/s for ``n`` rows written beforehand, and the records it sent."""
    relay = OutboxRelay(
        dsn=dsn,
        pool=pool,
        kafka=kafka(bootstrap),
        batch_size=ServiceSettings.model_fields["outbox_batch_size"].default,  # what services run
        poll_interval_s=0.05,
        metrics=Metrics("benchmark"),  # services count what their relay publishes
    )
    task = asyncio.create_task(relay.run())
    try:
        await enqueue(pool, topic, grant_awarded(0, KEYS))  # warm-up
        await until_published(pool, 60)
        warm_up = await pool.fetchval("SELECT max(id) FROM outbox")
        events = [grant_awarded(i, KEYS) for i in range(n)]
        async with pool.acquire() as conn, conn.transaction():  # visible at once, at the commit
            for i in range(0, n, WRITE_CHUNK):
                await enqueue_many(conn, [(topic, e) for e in events[i : i + WRITE_CHUNK]])
        started = time.perf_counter()
        await until_published(pool, 600)
        elapsed = time.perf_counter() - started
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    if relay.published != n + 1:  # counted once its last marking committed: read after the relay stopped
        raise SystemExit(f"the relay published {relay.published} rows, {n + 1} expected")
    rows = await pool.fetch(
        "SELECT topic, message_key, payload::text AS body FROM outbox WHERE id > $1 ORDER BY id", warm_up
    )
    return n / elapsed, [record_of(r["topic"], r["message_key"], r["body"]) for r in rows]


async def raw_rate(bootstrap: str, records: list[Record]) -> float:
    """The raw producer's events/s for the same records, with the relay's producer settings: each
    record with send(), then every future awaited."""
    producer = AIOKafkaProducer(**kafka(bootstrap).aiokafka(), **PRODUCER_SETTINGS)
    await producer.start()
    try:
        topic, key, value, headers = records[0]
        await (await producer.send(topic, value, key=key, headers=headers))  # warm-up
        started = time.perf_counter()
        futures = [
            await producer.send(topic, value, key=key, headers=headers) for topic, key, value, headers in records
        ]
        for future in futures:  # as the relay waits: cheaper than gather(), a callback per record
            if not future.done():
                await asyncio.wait((future,))
            future.result()  # a failed record fails the benchmark
        return len(records) / (time.perf_counter() - started)
    finally:
        await producer.stop()


async def measure(base: str, bootstrap: str, prefix: str, n: int) -> tuple[float, float]:
    """(relay events/s, raw producer events/s) for the same ``n`` records, on a fresh database."""
    dsn, admin, name = await fresh_database(base, "relay")
    pool = await db.create_pool(dsn)
    try:
        await db.migrate(pool, {"runtime": db.RUNTIME_MIGRATIONS})
        relay, records = await relay_rate(dsn, pool, bootstrap, prefix + FUNDING_TOPIC, n)
    finally:
        await pool.close()
        await drop_database(admin, name)
        await admin.close()
    return relay, await raw_rate(bootstrap, records)


def spread(values: list[float], form: str = "9,.0f") -> str:
    return f"min {min(values):{form}}  median {statistics.median(values):{form}}  max {max(values):{form}}"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=20000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    configure_logging("benchmark", os.environ.get("BENCH_LOG_LEVEL", "WARNING"), json=True)
    for name in KAFKA_SETTINGS:  # the clients below read them from the environment
        with contextlib.suppress(SystemExit):
            os.environ.setdefault(name, env(name))
    base, bootstrap = env("PASSERELLE_DATABASE_URL_BASE"), env("PASSERELLE_KAFKA_BOOTSTRAP")
    prefix = f"bench{uuid.uuid4().hex[:6]}."
    await ensure_topics(kafka(bootstrap), prefix)
    results: list[tuple[float, float]] = []
    try:
        for run in range(1, args.runs + 1):
            relay, raw = await measure(base, bootstrap, prefix, args.events)
            results.append((relay, raw))
            print(f"run {run}: relay {relay:9,.0f}/s   raw producer {raw:9,.0f}/s   ratio {relay / raw:.2f}")
    finally:
        await delete_topics(bootstrap, prefix)
    relays, raws = [r for r, _ in results], [w for _, w in results]
    print(f"{args.events} events, {args.runs} runs")
    print(f"relay (events/s)         {spread(relays)}")
    print(f"raw producer (events/s)  {spread(raws)}")
    print(f"ratio relay/raw          {spread([r / w for r, w in results], '9.2f')}")


if __name__ == "__main__":
    asyncio.run(main())
