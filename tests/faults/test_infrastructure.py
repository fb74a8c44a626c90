"""The infrastructure under the actions flow fails mid-stream: the broker restarts, PostgreSQL
crashes (``pg_ctl stop -m immediate``) and comes back, the database turns slow enough for
statements to time out. Private brokers and clusters: the shared ones are never touched."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import asyncpg
import pytest

from services.runtime.topics import ensure_topics
from tests.conftest import CreateDatabase
from tests.faults.harness import (
    FAULT_AT,
    OUTAGE_S,
    SLOW_DB_S,
    TIMEOUT_S,
    ActionsFlow,
    Outcome,
    PrivatePostgres,
    Stream,
    produce,
    query,
    report,
    wait_for,
)
from tests.support import PrivateKafka, kafka

pytestmark = [pytest.mark.infra, pytest.mark.timeout(TIMEOUT_S)]


async def through_an_outage(
    flow: ActionsFlow, stream: Stream, stop: Callable[[], Awaitable[None]], start: Callable[[], Awaitable[None]]
) -> tuple[int, float, float, float, Outcome]:
    """Stream through the service, ``stop`` what it needs once a third is applied, ``start`` it
    again after OUTAGE_S; returns the events applied at the fault, how long it was down, the
    service's CPU share meanwhile, the time to recover and the outcome."""
    service = flow.process()
    try:
        service.start()
        await service.wait_ready()
        await produce(flow.bootstrap, flow.source_topic, stream.records())
        at_fault = await wait_for(lambda: flow.at_least(FAULT_AT), timeout=TIMEOUT_S / 2, what="a third applied")
        down, cpu = time.monotonic(), service.cpu_s()
        await stop()
        await asyncio.sleep(OUTAGE_S)
        await start()
        fault_end = time.monotonic()
        busy = (service.cpu_s() - cpu) / (fault_end - down)
        recover_s = await flow.wait_drained(stream, since=fault_end)
        return at_fault, fault_end - down, busy, recover_s, await flow.outcome(stream)
    finally:
        service.stop()


async def test_the_broker_restarted_mid_stream_loses_nothing_and_applies_nothing_twice(
    private_kafka: PrivateKafka, create_database: CreateDatabase, tmp_path: Path
) -> None:
    started = time.monotonic()
    await private_kafka.start()
    prefix = f"f{uuid.uuid4().hex[:6]}."
    await ensure_topics(private_kafka.access, prefix)
    flow = ActionsFlow(await create_database("faults"), private_kafka.access, prefix, tmp_path)
    stream = Stream()
    at_fault, down_s, busy, recover_s, outcome = await through_an_outage(
        flow, stream, private_kafka.stop, private_kafka.start
    )
    assert at_fault < len(stream), "the broker stopped after the stream ended"
    note = f"stopped with {at_fault} applied, down {down_s:.1f} s (restart included); service CPU meanwhile {busy:.0%}"
    report(outcome.figures("broker restart", stream, recover_s, time.monotonic() - started, note)).check()


async def test_postgresql_crashed_and_restarted_mid_stream_loses_nothing_and_applies_nothing_twice(
    private_postgres: PrivatePostgres, kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    started = time.monotonic()
    await private_postgres.start()
    prefix = f"{topic_prefix}f{uuid.uuid4().hex[:6]}."
    await ensure_topics(kafka(kafka_bootstrap), prefix)
    flow = ActionsFlow(f"{private_postgres.url_base}/passerelle_actions", kafka_bootstrap, prefix, tmp_path)
    stream = Stream()
    at_fault, down_s, busy, recover_s, outcome = await through_an_outage(
        flow, stream, private_postgres.crash, private_postgres.start
    )
    assert at_fault < len(stream), "PostgreSQL stopped after the stream ended"
    note = (
        f"crashed with {at_fault} applied, down {down_s:.1f} s (restart and recovery included); "
        f"service CPU meanwhile {busy:.0%}"
    )
    report(outcome.figures("postgresql stop -m immediate", stream, recover_s, time.monotonic() - started, note)).check()


async def test_a_database_so_slow_that_statements_time_out_delays_the_stream_and_loses_nothing(
    actions_flow: ActionsFlow,
) -> None:
    """statement_timeout 500 ms on the service's database; for SLOW_DB_S another session holds the
    inbox and the outbox locked (a long migration, a VACUUM FULL): the consumer's and the relay's
    statements wait and are cancelled (57014), then everything flows again."""
    started, flow, stream = time.monotonic(), actions_flow, Stream()
    database = flow.dsn.rsplit("/", 1)[1]
    await query(flow.dsn, f"ALTER DATABASE \"{database}\" SET statement_timeout = '500ms'")
    service = flow.process()
    locker = await asyncpg.connect(flow.dsn)
    try:
        await locker.execute("SET statement_timeout = 0")
        service.start()
        await service.wait_ready()
        await produce(flow.bootstrap, flow.source_topic, stream.records())
        at_fault = await wait_for(lambda: flow.at_least(FAULT_AT), timeout=TIMEOUT_S / 2, what="a third applied")
        lock = locker.transaction()
        await lock.start()
        await locker.execute("LOCK TABLE inbox, outbox IN ACCESS EXCLUSIVE MODE")
        locked_with = await flow.measured()
        await asyncio.sleep(SLOW_DB_S)
        during = await flow.measured() - locked_with
        await lock.rollback()
        fault_end = time.monotonic()
        recover_s = await flow.wait_drained(stream, since=fault_end)
        outcome = await flow.outcome(stream)
    finally:
        service.stop()
        await locker.close()
    assert at_fault < len(stream), "the database turned slow after the stream ended"
    assert during == 0, f"{during} events applied through a locked inbox"
    timeouts = service.log_path.read_text(errors="replace").count("QueryCanceledError")
    note = f"slow for {SLOW_DB_S:.0f} s with {locked_with} applied; {timeouts} statements timed out (log)"
    report(outcome.figures("slow database (timeouts)", stream, recover_s, time.monotonic() - started, note)).check()
