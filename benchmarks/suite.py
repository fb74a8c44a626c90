"""The performance goals of issue 15 in one table, each figure beside its floor measured in the
same run, with the spread over several runs (minimum, median, maximum) so that a reader can tell
a change from noise.

    benchmarks/run [--runs 3] [--only P1,P5] [--quick] [--write docs/performance.md]

``benchmarks/run`` starts the local PostgreSQL and Kafka (``scripts/infra start``) and runs this
module. Every figure runs the project's own code against the real broker and database: the
actions service as a process of its own (``python -m services.actions``, as deployed), in a
database and under a topic prefix of its own, both dropped afterwards.

The figures
-----------
P1  The actions consumer ``indicators`` applying ``DevicesDelivered`` events already on the topic,
    against the *bare floor*: the same rows it writes per event (inbox, measurements, history,
    outbox), written by ``executemany`` in one transaction per batch of the consumer's batch size,
    with no broker, no parsing, no logic. The rows per event are counted from the consumer's own
    run, so the floor follows the mappings.
P2  The outbox relay against a raw aiokafka idempotent producer sending the same records
    (``benchmarks.relay``).
P3  Latency from a command's commit to the consumer's commit: an equipment-like service's
    transactions (5 events each, 100 a second: 500 events/s) for 60 s, published by the runtime's
    relay and applied by the actions service. Both commit times are PostgreSQL's own
    (``track_commit_timestamp``, which ``scripts/infra`` turns on): the source's from a row written
    with its events and never updated, the consumer's from its inbox rows.
P5  A read model rebuilt from 100,000 events kept on the topics: the dashboard's, by its rebuild
    command's code (``benchmarks.dashboard``), from a stream shaped as a season's (mostly the
    devices' own events; every type present). The actions' indicators are P1's consumer: each
    event they count writes nine rows, two of them events of their own, so their rebuild is
    bounded by P1's floor, not by reading.
P6  A burst of 5x the steady rate for 30 s: the seconds from the burst's end until the lag is
    back under 50 events (a tenth of a second of the steady rate), and the actions process's
    resident memory at its peak.
P4  A 10,000-device season end to end (``benchmarks.season``): intake, custody, sanitisation
    records with their certificates, grading, requests, allocation, delivery through the
    equipment API, until the actions' indicators and the notifications have caught up.

Asserts nothing about speed: it prints the figures and the goals, and says which are met.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import resource
import statistics
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import asyncpg
from passerelle_contracts import Envelope
from passerelle_contracts.equipment_v1 import TOPIC as EQUIPMENT_TOPIC

from benchmarks import dashboard, relay, season
from benchmarks.pipeline import KAFKA_SETTINGS, env
from services.runtime import db
from services.runtime.logs import configure_logging
from services.runtime.outbox import OutboxRelay, enqueue_many
from services.runtime.topics import ensure_topics
from tests.support import ServiceProcess, delete_topics, drop_database, free_port, kafka, produce

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = json.loads((ROOT / "contracts" / "examples" / "DevicesDelivered.v1.json").read_text())
CONSUMER = "indicators"
BATCH = 200  # ServiceSettings.consumer_batch_max's default: the floor writes batches of this size
KEYS = 50  # deliveries spread over keys (partitions), as a season's are


@dataclass
class Row:
    """One line of the table: a figure per run, its goal, and what it was measured against."""

    id: str
    figure: str
    unit: str
    goal: str
    met: Callable[[Row], bool]  # on the medians
    values: list[float] = field(default_factory=list)
    also: list[float] = field(default_factory=list)  # a second figure per run, when the goal has two
    sides: list[str] = field(default_factory=list)  # per run: the figure beside its floor
    note: str = ""

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    def cells(self) -> list[str]:
        if not self.values:
            return [self.id, self.figure, "not measured", "", "", self.goal, "—", self.note]
        low, mid, high = spread(self.values)
        verdict = "met" if self.met(self) else "NOT MET"
        runs = f"{fmt(low)} / {fmt(mid)} / {fmt(high)}"
        return [self.id, self.figure, f"{fmt(mid)} {self.unit}", runs, self.sides[-1] if self.sides else "",
                self.goal, verdict, self.note]  # fmt: skip


def spread(values: Sequence[float]) -> tuple[float, float, float]:
    return min(values), statistics.median(values), max(values)


def fmt(value: float) -> str:
    return f"{value:,.2f}" if abs(value) < 10 else f"{value:,.0f}"


HEADER = ["id", "figure", "median", "min / median / max", "last run, beside its floor", "goal", "", "note"]


def table(rows: Sequence[Row]) -> str:
    lines = [HEADER, *[row.cells() for row in rows]]
    widths = [max(len(line[i]) for line in lines) for i in range(len(HEADER))]
    out = ["  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)) for line in lines]
    out.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(out)


def markdown(rows: Sequence[Row], runs: int) -> str:
    cpu = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
         if line.startswith("model name")),
        platform.processor() or "unknown CPU",
    )  # fmt: skip
    memory = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/meminfo").read_text().splitlines()
         if line.startswith("MemTotal")),
        "?",
    )  # fmt: skip
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    out = [
        f"## {when}",
        "",
        (
            f"{os.cpu_count()} × {cpu}, {memory} of memory, {platform.system()} {platform.release()}; "
            f"Python {platform.python_version()}; {runs} runs per figure."
        ),
        "",
        "| " + " | ".join(HEADER) + " |",
        "|" + "---|" * len(HEADER),
    ]
    out += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row.cells()) + " |" for row in rows]
    return "\n".join(out) + "\n"


def write_history(path: Path, rows: Sequence[Row], runs: int) -> None:
    """Add this run's table to ``path`` after its introduction, above the older runs: the history."""
    intro = (
        "# Performance\n\n"
        "The tables `benchmarks/run` printed, newest first (issue 15). Each figure is the median of its\n"
        "runs, with the minimum and maximum; each is measured beside its floor in the same run.\n"
        "See `benchmarks/suite.py` for what each figure measures.\n\n"
    )
    old = path.read_text() if path.exists() else intro
    head, _, history = old.partition("\n## ")
    history = ("## " + history) if history else ""
    path.write_text((head.rstrip("\n") + "\n\n" if head.strip() else intro) + markdown(rows, runs) + "\n" + history)


# --- the local stack ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Stack:
    base: str  # PostgreSQL URL without a database
    bootstrap: str
    log_dir: Path


@contextlib.asynccontextmanager
async def database(stack: Stack, label: str) -> AsyncIterator[str]:
    admin = await asyncpg.connect(f"{stack.base}/postgres")
    name = f"bench_{label}_{uuid.uuid4().hex[:6]}"
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{stack.base}/{name}"
    finally:
        await drop_database(admin, name)
        await admin.close()


@contextlib.asynccontextmanager
async def topics(stack: Stack) -> AsyncIterator[str]:
    prefix = f"bench{uuid.uuid4().hex[:6]}."
    await ensure_topics(kafka(stack.bootstrap), prefix)
    try:
        yield prefix
    finally:
        with contextlib.suppress(Exception):
            await delete_topics(stack.bootstrap, prefix)


@contextlib.asynccontextmanager
async def actions_service(stack: Stack, dsn: str, prefix: str) -> AsyncIterator[ServiceProcess]:
    """The actions service as deployed, in its own database and under ``prefix``."""
    service = ServiceProcess(
        "actions",
        {
            "PASSERELLE_ACTIONS_DATABASE_URL": dsn,
            "PASSERELLE_ACTIONS_HTTP_PORT": str(free_port()),
            "PASSERELLE_TOPIC_PREFIX": prefix,
            "PASSERELLE_LOG_LEVEL": "WARNING",
            **kafka(stack.bootstrap).environment(),
        },
        stack.log_dir,
    )
    service.start()
    try:
        await service.wait_ready(timeout=120)
        yield service
    finally:
        service.stop()


def deliveries(n: int) -> list[Envelope]:
    """``n`` deliveries to a pupils' association by a regional body: each counts in two indicators."""
    out = []
    for i in range(n):
        raw = EXAMPLE | {"event_id": str(uuid.uuid4()), "subject": f"delivery-{i % KEYS}"}
        out.append(Envelope.model_validate(raw))
    return out


def records(events: Sequence[Envelope]) -> list[tuple[bytes, bytes]]:
    return [(e.subject.encode(), e.model_dump_json().encode()) for e in events]


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def wait_until(check: Callable[[], Awaitable[bool]], timeout: float, what: str, every: float = 0.05) -> float:
    started = time.monotonic()
    while not await check():
        if time.monotonic() - started > timeout:
            raise TimeoutError(f"{what}: not within {timeout:.0f} s")
        await asyncio.sleep(every)
    return time.monotonic()


# --- P1 and P5: the consumer against the bare floor -----------------------------------------------


@dataclass(frozen=True)
class Applied:
    rate: float  # events/s
    rows: dict[str, float]  # rows written per event, by table


async def consumer_rate(stack: Stack, n: int) -> Applied:
    """The actions service applying ``n`` deliveries already on the topic: events/s from its first
    inbox row to its last (the start-up and the group's join are not timed)."""
    async with topics(stack) as prefix, database(stack, "consumer") as dsn:
        await produce(stack.bootstrap, prefix + EQUIPMENT_TOPIC, records(deliveries(n)))
        async with actions_service(stack, dsn, prefix):
            conn = await asyncpg.connect(dsn)
            try:
                count = "SELECT count(*) FROM inbox WHERE consumer = $1"
                started = first = 0.0

                async def begun() -> bool:
                    nonlocal first
                    first = await conn.fetchval(count, CONSUMER)
                    return bool(first)

                started = await wait_until(begun, 300, "the consumer's first batch", every=0.005)
                ended = await wait_until(lambda: _at_least(conn, count, n), 3600, f"{n} events applied", every=0.02)
                rate = (n - first) / (ended - started)
                rows = {
                    table: await conn.fetchval(f"SELECT count(*) FROM {table}") / n
                    for table in ("inbox", "measurements", "action_history", "outbox")
                }
                rows["action_history"] -= (
                    await conn.fetchval("SELECT count(*) FROM action_history WHERE event_type <> 'IndicatorMeasured'")
                    / n
                )  # the seed's own history
                rows["outbox"] -= (
                    await conn.fetchval("SELECT count(*) FROM outbox WHERE event_type <> 'IndicatorMeasured'") / n
                )
            finally:
                await conn.close()
    return Applied(rate, rows)


async def _at_least(conn: asyncpg.Connection, query: str, n: int) -> bool:
    return bool(await conn.fetchval(query, CONSUMER) >= n)


FLOOR_TABLES = """
CREATE TABLE effect (id bigserial PRIMARY KEY, indicator_code text NOT NULL, value numeric NOT NULL,
                     delta numeric NOT NULL, measured_on date NOT NULL, source_event_id uuid NOT NULL,
                     actor jsonb NOT NULL, UNIQUE (indicator_code, source_event_id));
CREATE TABLE history (id bigserial PRIMARY KEY, action_number int NOT NULL, event_id uuid NOT NULL UNIQUE,
                      event_type text NOT NULL, changes jsonb NOT NULL, actor jsonb NOT NULL,
                      occurred_at timestamptz NOT NULL, data jsonb NOT NULL);
"""


async def bare_floor(stack: Stack, n: int, rows: dict[str, float]) -> float:
    """Events/s when nothing but the consumer's rows are written: per batch of ``BATCH`` events,
    one transaction, one ``executemany`` per table (the runtime's inbox and outbox, and tables
    shaped as measurements and history, with their unique constraints)."""
    per = {table: max(round(count), 0) for table, count in rows.items()}
    events = deliveries(n)
    measured = [e.model_dump(mode="json") for e in deliveries(per["outbox"] or 1)]  # an outbox row's size
    async with database(stack, "floor") as dsn:
        pool = await db.create_pool(dsn)
        try:
            await db.migrate(pool, {"runtime": db.RUNTIME_MIGRATIONS})
            await pool.execute(FLOOR_TABLES)
            actor = {"organisation": "passerelle", "role": "system"}
            started = time.perf_counter()
            for start in range(0, n, BATCH):
                batch = events[start : start + BATCH]
                async with pool.acquire() as conn, conn.transaction():
                    await conn.executemany(
                        """INSERT INTO inbox (consumer, event_id, event_type, topic, partition, "offset")
                           VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING""",
                        [(CONSUMER, e.event_id, e.event_type, "t", 0, i) for i, e in enumerate(batch)],
                    )
                    await conn.executemany(
                        """INSERT INTO effect (indicator_code, value, delta, measured_on, source_event_id, actor)
                           VALUES ($1, $2, $3, $4, $5, $6)""",
                        [(f"i{k}", 25, 25, date.fromisoformat(e.data["delivered_on"]), e.event_id, actor)
                         for e in batch for k in range(per["measurements"])],
                    )  # fmt: skip
                    await conn.executemany(
                        """INSERT INTO history (action_number, event_id, event_type, changes, actor, occurred_at, data)
                           VALUES ($1, $2, $3, $4, $5, $6, $7)""",
                        [(46, uuid.uuid4(), "IndicatorMeasured", [], actor, e.occurred_at,
                          e.data) for e in batch for _ in range(per["action_history"])],
                    )  # fmt: skip
                    await conn.executemany(
                        """INSERT INTO outbox (event_id, topic, message_key, event_type, payload)
                           VALUES ($1, $2, $3, $4, $5)""",
                        [(uuid.uuid4(), "t", e.subject, "IndicatorMeasured", measured[k])
                         for e in batch for k in range(per["outbox"])],
                    )  # fmt: skip
            return n / (time.perf_counter() - started)
        finally:
            await pool.close()


async def p1(stack: Stack, row: Row, n: int) -> None:
    applied = await consumer_rate(stack, n)
    floor = await bare_floor(stack, n, applied.rows)
    row.values.append(applied.rate / floor)
    row.also.append(applied.rate)
    shape = ", ".join(f"{count:g} {table}" for table, count in applied.rows.items())
    row.sides.append(f"{applied.rate:,.0f} ev/s ÷ floor {floor:,.0f} ev/s")
    low, mid, high = spread(row.also)
    row.note = f"consumer ev/s min / median / max: {fmt(low)} / {fmt(mid)} / {fmt(high)}; rows per event: {shape}"


async def p5(stack: Stack, row: Row, n: int) -> None:
    started = time.monotonic()
    rate = await dashboard.bench_rebuild(kafka(stack.bootstrap), n, "season")
    row.values.append(rate)
    row.sides.append(f"{n:,} events in {n / rate:,.1f} s; goal 10,000 ev/s ({time.monotonic() - started:.0f} s in all)")
    row.note = "the dashboard's read models, from a season-shaped stream (benchmarks.dashboard --shape season)"


# --- P4: a season end to end ----------------------------------------------------------------------


async def p4(stack: Stack, row: Row, devices: int) -> None:
    result = await season.measure(devices)
    row.values.append(result["devices_per_s"])
    stages = result["stages"]
    dominant = result["dominant"]
    row.sides.append(
        f"{devices:,} devices in {result['seconds']:,.1f} s; {dominant} {stages[dominant]:,.1f} s of it; floor 1,000/s"
    )
    row.note = "stages (s): " + ", ".join(f"{name} {seconds:,.1f}" for name, seconds in stages.items())


# --- P2: the relay --------------------------------------------------------------------------------


async def p2(stack: Stack, row: Row, n: int) -> None:
    async with topics(stack) as prefix:
        relayed, raw = await relay.measure(stack.base, stack.bootstrap, prefix, n)
    row.values.append(relayed / raw)
    row.sides.append(f"relay {relayed:,.0f} ev/s ÷ raw producer {raw:,.0f} ev/s")


# --- P3 and P6: a source service, steady and in bursts ----------------------------------------------

SENT = "CREATE TABLE sent (event_id uuid PRIMARY KEY)"  # written with the events, never updated


@dataclass
class Flow:
    """An equipment-like service (its outbox and the runtime's relay) feeding the actions service."""

    source: asyncpg.Pool
    sink: asyncpg.Connection
    service: ServiceProcess
    topic: str
    written: int = 0

    async def write(self, rate: float, seconds: float, per_transaction: int = 5) -> None:
        """``rate`` events/s for ``seconds``, ``per_transaction`` events per transaction, on a
        schedule (a late transaction is not made up by bunching: the schedule goes on)."""
        interval = per_transaction / rate
        started = time.monotonic()
        step = 0
        topic = self.topic
        while (now := time.monotonic()) - started < seconds:
            due = started + step * interval
            if now < due:
                await asyncio.sleep(due - now)
            events = deliveries(per_transaction)
            async with self.source.acquire() as conn, conn.transaction():
                await enqueue_many(conn, [(topic, e) for e in events])
                await conn.executemany("INSERT INTO sent (event_id) VALUES ($1)", [(e.event_id,) for e in events])
            self.written += per_transaction
            step += 1

    async def applied(self) -> int:
        return int(await self.sink.fetchval("SELECT count(*) FROM inbox WHERE consumer = $1", CONSUMER))

    async def latencies_ms(self) -> list[float]:
        """Per event: the consumer's commit minus the command's, by PostgreSQL's commit timestamps."""
        sent = await self.source.fetch("SELECT event_id, pg_xact_commit_timestamp(xmin) AS at FROM sent")
        done = await self.sink.fetch(
            "SELECT event_id, pg_xact_commit_timestamp(xmin) AS at FROM inbox WHERE consumer = $1", CONSUMER
        )
        applied = {r["event_id"]: r["at"] for r in done}
        return [(applied[r["event_id"]] - r["at"]).total_seconds() * 1000 for r in sent if r["event_id"] in applied]


@contextlib.asynccontextmanager
async def flow(stack: Stack) -> AsyncIterator[Flow]:
    async with topics(stack) as prefix, database(stack, "source") as source_dsn, database(stack, "sink") as sink_dsn:
        pool = await db.create_pool(source_dsn)
        relay_task: asyncio.Task[None] | None = None
        try:
            await db.migrate(pool, {"runtime": db.RUNTIME_MIGRATIONS})
            await pool.execute(SENT)
            if await pool.fetchval("SHOW track_commit_timestamp") != "on":
                raise SystemExit("PostgreSQL does not track commit timestamps: scripts/infra stop postgres, then start")
            publisher = OutboxRelay(dsn=source_dsn, pool=pool, kafka=kafka(stack.bootstrap))
            relay_task = asyncio.create_task(publisher.run())
            async with actions_service(stack, sink_dsn, prefix) as service:
                sink = await asyncpg.connect(sink_dsn)
                try:
                    moving = Flow(pool, sink, service, topic=prefix + EQUIPMENT_TOPIC)
                    await moving.write(100, 0.5, per_transaction=1)  # warm up: the group joined, the relay leads
                    await wait_until(lambda: _caught_up(moving), 120, "warm-up applied")
                    yield moving
                finally:
                    await sink.close()
        finally:
            if relay_task is not None:
                relay_task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await relay_task
            await pool.close()


async def _caught_up(moving: Flow) -> bool:
    return await moving.applied() >= moving.written


async def p3(stack: Stack, row: Row, seconds: float) -> None:
    async with flow(stack) as moving:
        await moving.source.execute("TRUNCATE sent")
        before = moving.written
        await moving.write(500, seconds)
        await wait_until(lambda: _caught_up(moving), 120, "steady stream applied")
        latencies = sorted(await moving.latencies_ms())
    assert len(latencies) == moving.written - before, "every event of the stream has both commit times"
    p50, p99 = latencies[len(latencies) // 2], latencies[int(len(latencies) * 0.99)]
    row.values.append(p99)
    row.also.append(p50)
    row.sides.append(f"p50 {p50:,.1f} ms, p99 {p99:,.1f} ms, max {latencies[-1]:,.0f} ms ({len(latencies):,} events)")
    row.note = f"the figure is p99; p50 min / median / max: {' / '.join(fmt(v) for v in spread(row.also))} ms"


async def p6(stack: Stack, row: Row, steady: float, burst_s: float) -> None:
    async with flow(stack) as moving:
        pid = moving.service.process.pid if moving.service.process else 0
        peak = rss_mib(pid)
        lags: list[tuple[float, int]] = []
        stop = asyncio.Event()

        async def sample() -> None:
            nonlocal peak
            while not stop.is_set():
                lags.append((time.monotonic(), moving.written - await moving.applied()))
                peak = max(peak, rss_mib(pid))
                await asyncio.sleep(0.25)

        sampler = asyncio.create_task(sample())
        await moving.write(steady, 10)
        await moving.write(steady * 5, burst_s)
        burst_end = time.monotonic()
        writer = asyncio.create_task(moving.write(steady, 90))
        recovered: float | None = None
        while time.monotonic() - burst_end < 90:
            await asyncio.sleep(0.25)
            if lags and lags[-1][0] > burst_end and lags[-1][1] < 50:
                recovered = lags[-1][0] - burst_end
                break
        writer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await writer
        stop.set()
        await sampler
    worst = max(lag for _, lag in lags)
    row.values.append(recovered if recovered is not None else float("inf"))
    row.sides.append(f"lag at most {worst:,} events; actions process RSS peak {peak:,.0f} MiB")
    row.note = f"{steady:,.0f} ev/s, then {steady * 5:,.0f} ev/s for {burst_s:.0f} s; RSS bounded: peak {peak:,.0f} MiB"


# --- the table ------------------------------------------------------------------------------------


def rows() -> dict[str, Row]:
    return {
        "P1": Row("P1", "consumer ÷ bare floor, same rows and batch", "×", "≥ 0.3 and ≥ 5,000 ev/s",
                  lambda r: r.median >= 0.3 and statistics.median(r.also) >= 5_000),
        "P2": Row("P2", "relay ÷ raw idempotent producer", "×", "≥ 0.7", lambda r: r.median >= 0.7),
        "P3": Row("P3", "command commit → consumer commit, 500 ev/s", "ms p99", "p50 ≤ 20, p99 ≤ 100",
                  lambda r: r.median <= 100 and statistics.median(r.also) <= 20),
        "P4": Row("P4", "10,000-device season end to end", "devices/s", "≥ 1,000", lambda r: r.median >= 1000),
        "P5": Row("P5", "read model rebuilt from 100,000 events", "ev/s", "≥ 10,000", lambda r: r.median >= 10_000),
        "P6": Row("P6", "5× burst for 30 s: back to no lag", "s", "≤ 60 s, memory bounded", lambda r: r.median <= 60),
    }  # fmt: skip


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--only", default="P1,P2,P3,P4,P5,P6", help="comma-separated ids")
    parser.add_argument("--quick", action="store_true", help="smaller figures, to try the table (not to quote)")
    parser.add_argument("--write", type=Path, help="add the table to this history file (docs/performance.md)")
    args = parser.parse_args()
    configure_logging("benchmark", os.environ.get("BENCH_LOG_LEVEL", "WARNING"), json=True)
    for name in KAFKA_SETTINGS:  # the clients below (and the services' processes) read them
        with contextlib.suppress(SystemExit):
            os.environ.setdefault(name, env(name))
    log_dir = ROOT / ".run" / "benchmarks"
    log_dir.mkdir(parents=True, exist_ok=True)
    stack = Stack(env("PASSERELLE_DATABASE_URL_BASE"), env("PASSERELLE_KAFKA_BOOTSTRAP"), log_dir)
    quick = args.quick
    table_rows = rows()
    wanted = [i.strip().upper() for i in args.only.split(",") if i.strip()]
    plan: dict[str, Callable[[Row], Awaitable[None]]] = {
        "P1": lambda row: p1(stack, row, 4_000 if quick else 20_000),
        "P2": lambda row: p2(stack, row, 4_000 if quick else 20_000),
        "P3": lambda row: p3(stack, row, 10 if quick else 60),
        "P4": lambda row: p4(stack, row, 1_000 if quick else 10_000),
        "P5": lambda row: p5(stack, row, 10_000 if quick else 100_000),
        "P6": lambda row: p6(stack, row, 500, 10 if quick else 30),
    }
    for figure in wanted:
        if figure not in plan:
            continue
        for run in range(args.runs):
            started = time.monotonic()
            await plan[figure](table_rows[figure])
            print(f"{figure} run {run + 1}/{args.runs}: {table_rows[figure].sides[-1]} ({time.monotonic() - started:.0f} s)",
                  flush=True)  # fmt: skip
    shown = [table_rows[i] for i in ("P1", "P2", "P3", "P4", "P5", "P6") if i in wanted]
    print()
    print(table(shown))
    print(f"\nbenchmark process peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MiB")
    if args.write:
        write_history(args.write, shown, args.runs)
        print(f"written to {args.write}")


if __name__ == "__main__":
    asyncio.run(main())
