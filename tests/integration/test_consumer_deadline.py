"""A batch of the reliable consumer against the real broker and PostgreSQL (issue 9): its time is
bounded against max.poll.interval.ms, a record is never dead-lettered twice, and the lag of each
partition is exported.

Without a bound, a batch of failing records (each retried with backoff, then dead-lettered) takes
longer than max.poll.interval.ms: the member is evicted, its commit is refused, and the batch is
delivered again from the last commit, dead letters included, again and again.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import hashlib
import json
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from passerelle_contracts import Envelope
from passerelle_contracts.equipment_v1 import TOPIC

from services.runtime import db
from services.runtime.consumer import PostgresDeadLetters
from services.runtime.service import Runtime
from services.runtime.settings import ServiceSettings
from services.runtime.testing import FakeStore
from services.runtime.topics import ensure_topics
from tests.conftest import CreateDatabase
from tests.support import eventually, kafka, produce, read_topic

pytestmark = pytest.mark.infra

EXAMPLE = json.loads(
    (Path(__file__).resolve().parents[2] / "contracts" / "examples" / "DevicesDelivered.v1.json").read_text()
)
REFUSED = "refused-recipient"  # the handler below fails for good on this recipient


def delivery(recipient: str) -> bytes:
    event = json.loads(json.dumps(EXAMPLE))
    event["event_id"] = str(uuid.uuid4())
    event["data"]["recipient"] = recipient
    return json.dumps(event).encode()


@contextlib.asynccontextmanager
async def consuming(
    dsn: str, bootstrap: str, prefix: str, handler: Any, migrations: Path, **settings: Any
) -> AsyncIterator[Runtime]:
    """A runtime with one consumer, ``slow``, of the equipment topic; no relay, no service tables."""
    runtime = Runtime(
        ServiceSettings(
            service_name="deadline",
            database_url=dsn,
            kafka_bootstrap=bootstrap,
            topic_prefix=prefix,
            http_port=0,
            **settings,
        ),
        migrations=migrations,
        relay=False,
    )
    runtime.consume("slow", [TOPIC], {"DevicesDelivered": handler})
    await runtime.start()
    try:
        yield runtime
    finally:
        await runtime.stop()


async def committed(bootstrap: str, group: str) -> int:
    """Offsets the group committed, summed over partitions."""
    admin = AIOKafkaAdminClient(**kafka(bootstrap).aiokafka())
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group)
        return sum(max(o.offset, 0) for o in offsets.values())
    finally:
        await admin.close()


def sample(runtime: Runtime, name: str, **labels: str) -> float:
    return runtime.metrics.registry.get_sample_value(name, labels) or 0.0


def assigned(runtime: Runtime) -> set[Any]:
    """The partitions a runtime's consumer holds (aiokafka's consumer, once started)."""
    consumers = [getattr(s, "consumer", None) for s in runtime.broker.subscribers]
    return {tp for c in consumers if c is not None for tp in c.assignment()}


FAILING, GOOD = 24, 8  # refused records take 0.45 s each (3 tries, 0.15 s then 0.3 s apart)
MAX_POLL_INTERVAL_MS = 6000  # the whole batch would take ~11 s


async def test_a_batch_that_outlasts_max_poll_interval_is_cut_short_and_no_record_is_dead_lettered_twice(
    create_database: CreateDatabase, kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    """Two replicas share the group, as in production: had the one handling the batch been
    evicted, the other would have been given its partition and replayed the batch."""
    prefix = f"{topic_prefix}{uuid.uuid4().hex[:6]}."
    topic = prefix + TOPIC
    await ensure_topics(kafka(kafka_bootstrap), prefix)
    messages = [delivery(REFUSED if n % 4 else "asbl-devoirs") for n in range(FAILING + GOOD)]
    good = {Envelope.model_validate_json(m).event_id for m in messages if REFUSED not in m.decode()}
    assert len(good) == GOOD
    calls: collections.Counter[uuid.UUID] = collections.Counter()

    async def handler(uow: Any, envelope: Envelope, data: Any) -> None:
        calls[envelope.event_id] += 1
        if data.recipient == REFUSED:
            raise RuntimeError("this recipient is refused")
        uow.emit(data, envelope.subject)  # its effect: an outbox row, committed with its inbox row or not at all

    dsn = await create_database("deadline")
    settings = {
        "consumer_max_poll_interval_ms": MAX_POLL_INTERVAL_MS,
        "consumer_max_attempts": 3,
        "consumer_backoff_initial_s": 0.15,
        "consumer_backoff_max_s": 0.5,
    }
    async with contextlib.AsyncExitStack() as stack:
        replicas = [
            await stack.enter_async_context(consuming(dsn, kafka_bootstrap, prefix, handler, tmp_path, **settings))
            for _ in range(2)
        ]

        def balanced() -> bool:
            held = [assigned(r) for r in replicas]
            return all(held) and len(held[0] | held[1]) == 3 and not held[0] & held[1]

        await eventually(balanced, timeout=30, interval=0.2, what="both replicas holding partitions")
        started = time.monotonic()
        await produce(kafka_bootstrap, topic, [(b"one-aggregate", m) for m in messages])  # one partition, in order

        async def dead_letters() -> list[Any]:
            return await read_topic(kafka_bootstrap, topic + ".dlq", timeout=5)

        async def finished_or_duplicated() -> bool:
            if await committed(kafka_bootstrap, replicas[0].settings.group("slow")) == FAILING + GOOD:
                return True
            return len(await dead_letters()) > FAILING  # a replayed batch: fail now rather than time out

        await eventually(finished_or_duplicated, timeout=90, interval=0.5, what="every record handled and committed")
        elapsed = time.monotonic() - started
        dead = await dead_letters()
        offsets = collections.Counter(dict(r.headers)["x-dlq-original-offset"].decode() for r in dead)
        assert [o for o, n in offsets.items() if n > 1] == [], "a record dead-lettered twice"
        assert len(dead) == FAILING
        async with replicas[0].pool.acquire() as conn:
            effects = await conn.fetch(
                "SELECT payload->>'causation_id' AS cause, count(*) AS n FROM outbox WHERE topic = $1 GROUP BY 1", topic
            )
            assert {uuid.UUID(r["cause"]): r["n"] for r in effects} == dict.fromkeys(good, 1), (
                "every good record applied once"
            )
            assert await conn.fetchval("SELECT count(*) FROM inbox") == GOOD
            rows = await conn.fetch('SELECT "offset", reason, event_id FROM dead_letters ORDER BY "offset"')
        assert [str(r["offset"]) for r in rows] == sorted(offsets, key=int)
        assert {r["reason"] for r in rows} == {"handler-failed"} and all(r["event_id"] for r in rows)

        def total(name: str, **labels: str) -> float:
            return sum(sample(r, name, **labels) for r in replicas)

        consumed = "passerelle_events_consumed_total"
        labels = {"consumer": "slow", "event_type": "DevicesDelivered"}
        assert total(consumed, **labels, outcome="processed") == GOOD
        assert total(consumed, **labels, outcome="dead-lettered") == FAILING
        # A good record's handler ran in its batch's transaction, rolled back when a refused record
        # failed it, then in a transaction of its own: twice at most, its effect once (above).
        assert max(calls[e] for e in good) <= 2
        # Nothing was handled twice: no member evicted, no batch replayed.
        assert total(consumed, **labels, outcome="duplicate") == 0
        assert total(consumed, **labels, outcome="dead-lettered-before") == 0
        cut = total("passerelle_consumer_batches_cut_short_total", consumer="slow")
        assert cut >= 2, "the batch was cut at its deadline, more than once"
    print(f"{FAILING} dead letters and {GOOD} records applied in {elapsed:.1f} s, {cut:.0f} batches cut short")


async def test_the_lag_of_each_partition_is_exported_while_a_batch_is_handled_and_at_scrape(
    create_database: CreateDatabase, kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    prefix = f"{topic_prefix}{uuid.uuid4().hex[:6]}."
    topic = prefix + TOPIC
    await ensure_topics(kafka(kafka_bootstrap), prefix)
    await produce(kafka_bootstrap, topic, [(b"one-aggregate", delivery("asbl-devoirs")) for _ in range(30)])
    handled, gate = 0, asyncio.Event()

    async def handler(uow: Any, envelope: Envelope, data: Any) -> None:
        nonlocal handled
        if handled == 10:
            await gate.wait()  # hold the 11th record: 10 applied in the open transaction, 20 to go
        handled += 1

    async with consuming(await create_database("lag"), kafka_bootstrap, prefix, handler, tmp_path) as runtime:
        [partition] = {r.partition for r in await read_topic(kafka_bootstrap, topic)}
        labels = {"consumer": "slow", "topic": topic, "partition": str(partition)}

        def lag() -> float | None:
            return runtime.metrics.registry.get_sample_value("passerelle_consumer_lag", labels)

        # A batch is one transaction: the records before the 11th in its batch are not committed,
        # so the lag counts them too (30 if the first batch holds them all).
        assert await eventually(lambda: 20 <= (lag() or 0) <= 30, timeout=30, what="a lag while the 11th record waits")
        assert handled == 10
        gate.set()
        await eventually(lambda: lag() == 0, timeout=30, what="no lag once every record is handled")
        assert handled == 30
        text = (await runtime.metrics.render()).decode()  # what Prometheus reads, refreshed at the scrape
        assert f'passerelle_consumer_lag{{consumer="slow",partition="{partition}",topic="{topic}"}} 0.0' in text


@pytest.mark.parametrize("log", ["fake", "postgres"])
async def test_the_fake_dead_letter_log_behaves_as_the_table(create_database: CreateDatabase, log: str) -> None:
    """The unit tests' ``FakeStore`` and ``PostgresDeadLetters`` answer alike, so the fake cannot drift."""
    pool = await db.create_pool(await create_database("dead_letters"))
    try:
        await db.migrate(pool, {"runtime": db.RUNTIME_MIGRATIONS})
        dead_letters = FakeStore(object()) if log == "fake" else PostgresDeadLetters(lambda: pool)
        event_id = uuid.uuid4()
        a, b, c = (hashlib.sha256(value).digest() for value in (b"a", b"b", b"c"))
        assert await dead_letters.dead_lettered("c", [("t", 0, 5, a)]) == set()
        await dead_letters.record_dead_letter("c", ("t", 0, 5, a), "handler-failed", event_id)
        await dead_letters.record_dead_letter("c", ("t", 0, 5, a), "handler-failed", event_id)  # a retry: no error
        await dead_letters.record_dead_letter("c", ("t", 1, 7, b), "invalid-envelope", None)
        asked = [("t", 0, 4, a), ("t", 0, 5, a), ("t", 0, 6, a), ("t", 1, 7, b), ("u", 0, 5, a), ("t", 1, 7, c)]
        assert await dead_letters.dead_lettered("c", asked) == {("t", 0, 5, a), ("t", 1, 7, b)}
        assert await dead_letters.dead_lettered("other-consumer", asked) == set()
        assert await dead_letters.dead_lettered("c", []) == set()
        # The topic was recreated: another record at a noted offset, dead-lettered too, replaces it.
        await dead_letters.record_dead_letter("c", ("t", 1, 7, c), "handler-failed", None)
        assert await dead_letters.dead_lettered("c", asked) == {("t", 0, 5, a), ("t", 1, 7, c)}
    finally:
        await pool.close()
