"""The dashboard's two speeds: how fast its read models are rebuilt from the topics, and how soon an
event published to Kafka appears in a browser that watches the live feed.

    scripts/infra start && .venv/bin/python -m benchmarks.dashboard [--events 100000] [--latency-events 200]

- **Rebuild**: ``--events`` envelopes of every actions, equipment and funding event type (the
  contracts' examples, with their identifiers spread over a few thousand things; every type
  equally often, or ``--shape season``: mostly the devices' own events, see ``SEASON_WEIGHTS``)
  are written to the topics of a private prefix, then ``services.dashboard.rebuild`` builds the read models from them
  into a fresh database, as ``python -m services.dashboard rebuild --into`` does: events per second.
- **Publication to browser**: a dashboard runs as a process (its own database and prefix); Debian's
  Chromium, driven by Playwright, signs in and opens the live feed; ``--latency-events`` events are
  published one every 50 ms, each timed from just before the producer sends it to the moment its
  row enters the page (a MutationObserver, same machine and clock): p50 and p99.

Each figure is printed beside its floor (this machine: 2 CPUs). The broker is the local stack's
(TLS + SCRAM, as in production), reached with the admin's credentials from ``.run/env``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from aiokafka import AIOKafkaProducer
from passerelle_contracts import Envelope, actions_v1, equipment_v1, funding_v1
from passerelle_contracts.registry import parse_data

from benchmarks.pipeline import KAFKA_SETTINGS, env, fresh_database
from services.dashboard.rebuild import rebuild
from services.dashboard.settings import DashboardSettings
from services.runtime.kafka_access import KafkaAccess
from services.runtime.topics import ensure_topics
from tests.browser import launched_chromium, opened_page
from tests.support import ServiceProcess, delete_topics, drop_database, free_port

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "contracts" / "examples"
# Floors: a rebuild of a few years of events (the plan's whole life is well under 100,000) must
# take minutes at most, and the Coordination sees an event within a second (the target).
REBUILD_FLOOR = 1_000  # events a second
LATENCY_P99_CEILING_MS = 1_000.0
SPREAD = 3_000  # distinct things (devices, deliveries, calls …) the generated events are about


def kafka_environment() -> KafkaAccess:
    for name in ("PASSERELLE_KAFKA_BOOTSTRAP", *KAFKA_SETTINGS):
        os.environ.setdefault(name, env(name))
    return KafkaAccess.from_environment()


def examples() -> list[Envelope]:
    """One example envelope of every event type the projector reads on the three domain topics."""
    types = [m.event_type for module in (actions_v1, equipment_v1, funding_v1) for m in module.EVENTS]
    return [Envelope.model_validate_json((EXAMPLES / f"{t}.v1.json").read_text("utf-8")) for t in types]


def generated(model: Envelope, i: int) -> Envelope:
    """The example with new ids: its string identifiers spread over ``SPREAD`` things, when the
    model accepts that (else the example's own)."""
    data = dict(model.data)
    for name, value in model.data.items():
        if name.endswith("_id") and isinstance(value, str):
            data[name] = f"{name}-{i % SPREAD}"
    event_id = uuid.uuid4()
    envelope = model.model_copy(
        update={"event_id": event_id, "correlation_id": event_id, "occurred_at": datetime.now(UTC), "data": data}
    )
    try:
        parse_data(envelope)
    except Exception:  # noqa: BLE001 - an identifier of another shape: keep the example's
        envelope = envelope.model_copy(update={"data": dict(model.data)})
    return envelope


def topic_of(envelope: Envelope) -> str:
    topic: str = parse_data(envelope).topic
    return topic


async def publish(access: KafkaAccess, prefix: str, envelopes: list[Envelope]) -> float:
    producer = AIOKafkaProducer(**access.aiokafka(), acks="all", enable_idempotence=True, linger_ms=5)
    await producer.start()
    started = time.perf_counter()
    try:
        futures = [
            await producer.send(prefix + topic_of(e), e.model_dump_json().encode(), key=e.subject.encode())
            for e in envelopes
        ]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()
    return time.perf_counter() - started


# A season's stream (``--shape season``): what a rebuild mostly reads is the devices' own events
# (each device sanitised and graded), then deliveries, allocations and the indicators they move;
# every other type comes about once in a hundred events. Shuffled with a fixed seed: the types are
# interleaved as the services' partitions interleave them, never sorted into runs.
SEASON_WEIGHTS = {
    "DeviceSanitised": 30,
    "DeviceConditionChanged": 30,
    "IndicatorMeasured": 4,
    "DevicesDelivered": 2,
    "DevicesAllocated": 2,
}


def stream(n: int, shape: str = "uniform") -> list[Envelope]:
    """``n`` events: every type equally often (``uniform``: the worst case for a rebuild, whose
    writes go together per statement), or shaped as a season (``season``, ``SEASON_WEIGHTS``)."""
    models = examples()
    if shape == "uniform":
        return [generated(models[i % len(models)], i) for i in range(n)]
    deck = [m for m in models for _ in range(SEASON_WEIGHTS.get(m.event_type, 1))]
    random.Random(15).shuffle(deck)
    return [generated(deck[i % len(deck)], i) for i in range(n)]


async def bench_rebuild(access: KafkaAccess, n: int, shape: str = "uniform") -> float:
    """Prints the rebuild's figures; returns its events/s."""
    prefix = f"bench{uuid.uuid4().hex[:6]}."
    await ensure_topics(access, prefix)
    envelopes = stream(n, shape)
    seconds = await publish(access, prefix, envelopes)
    print(f"published {n:,} events ({shape}) in {seconds:.1f} s ({n / seconds:,.0f} events/s) to {prefix}*")
    dsn, admin, name = await fresh_database(env("PASSERELLE_DATABASE_URL_BASE"), "dashboard")
    try:
        settings = DashboardSettings(database_url=dsn, topic_prefix=prefix)
        result = await rebuild(settings, into=dsn, batch=1000)
        print(result.summary())
        verdict = "ok" if result.rate >= REBUILD_FLOOR else "BELOW THE FLOOR"
        print(
            f"{'rebuild from the topics':<40} {result.applied:>9,} events {result.seconds:7.1f} s "
            f"{result.rate:9,.0f} events/s   floor {REBUILD_FLOOR:,} events/s   {verdict}"
        )
        return result.rate
    finally:
        await drop_database(admin, name)
        await admin.close()
        await delete_topics(access, prefix)


async def bench_latency(access: KafkaAccess, n: int) -> None:
    prefix = f"bench{uuid.uuid4().hex[:6]}."
    await ensure_topics(access, prefix)
    dsn, admin, name = await fresh_database(env("PASSERELLE_DATABASE_URL_BASE"), "dashboard")
    logs = Path(tempfile.mkdtemp(prefix="bench-dashboard-"))
    dashboard = ServiceProcess(
        "dashboard",
        {
            "PASSERELLE_DASHBOARD_DATABASE_URL": dsn,
            "PASSERELLE_DASHBOARD_HTTP_PORT": str(free_port()),
            "PASSERELLE_TOPIC_PREFIX": prefix,
            "PASSERELLE_LOG_LEVEL": "WARNING",
        },
        logs,
    )
    try:
        dashboard.start()
        await dashboard.wait_ready()
        key = dashboard.cli("keys", "create", "--organisation", "bench", "--role", "operator")
        latencies = await watch(access, prefix, dashboard.url, key, n)
        p50 = statistics.median(latencies)
        p99 = statistics.quantiles(latencies, n=100)[98] if len(latencies) >= 2 else latencies[0]
        verdict = "ok" if p99 <= LATENCY_P99_CEILING_MS else "ABOVE THE CEILING"
        print(
            f"{'publication to browser (live feed)':<40} {len(latencies):>9,} events   p50 {p50:6.0f} ms   "
            f"p99 {p99:6.0f} ms   ceiling p99 {LATENCY_P99_CEILING_MS:,.0f} ms   {verdict}"
        )
    finally:
        dashboard.stop()
        await drop_database(admin, name)
        await admin.close()
        await delete_topics(access, prefix)
        shutil.rmtree(logs, ignore_errors=True)


OBSERVE = """() => {
  window.__seen = {};
  const rows = document.getElementById("feed-rows");
  new MutationObserver((changes) => {
    const now = performance.timeOrigin + performance.now();
    for (const change of changes) for (const node of change.addedNodes)
      if (node.dataset && node.dataset.event) window.__seen[node.dataset.event] = now;
  }).observe(rows, {childList: true});
}"""


async def watch(access: KafkaAccess, prefix: str, url: str, key: str, n: int) -> list[float]:
    """Milliseconds from each event's send to its row in the page."""
    model = Envelope.model_validate_json((EXAMPLES / "ActionStatusChanged.v1.json").read_text("utf-8"))
    async with launched_chromium() as browser, opened_page(browser, base_url=url) as page:
        await page.goto("/login")
        await page.locator("#key").fill(key)
        await page.locator("button[type=submit]").click()
        await page.goto("/feed")
        await page.locator("#live-status").filter(has_text="direct").wait_for(timeout=15_000)
        await page.evaluate(OBSERVE)
        producer = AIOKafkaProducer(**access.aiokafka(), acks="all", enable_idempotence=True)
        await producer.start()
        sent: dict[str, float] = {}
        try:
            for i in range(n):
                envelope = generated(model, i)
                sent[str(envelope.event_id)] = time.time() * 1000
                await producer.send_and_wait(
                    prefix + actions_v1.TOPIC, envelope.model_dump_json().encode(), key=envelope.subject.encode()
                )
                await asyncio.sleep(0.05)
        finally:
            await producer.stop()
        deadline = time.monotonic() + 30
        seen: dict[str, float] = {}
        while time.monotonic() < deadline:
            seen = await page.evaluate("window.__seen")
            if len(seen) >= n:
                break
            await asyncio.sleep(0.5)
    missing = set(sent) - set(seen)
    if missing:
        print(f"{len(missing)} of {n} events never reached the page within 30 s")
    return sorted(seen[e] - sent[e] for e in sent if e in seen)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--latency-events", type=int, default=200)
    parser.add_argument("--shape", choices=("uniform", "season"), default="uniform", help="the rebuilt stream's mix")
    args = parser.parse_args()
    access = kafka_environment()
    if args.events:
        await bench_rebuild(access, args.events, args.shape)
    if args.latency_events:
        await bench_latency(access, args.latency_events)


if __name__ == "__main__":
    asyncio.run(main())
