"""The outbox relay against the real broker and database."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from passerelle_contracts import SYSTEM_ACTOR, Envelope
from passerelle_contracts.funding_v1 import TOPIC, GrantAwarded

from services.runtime.kafka_access import KafkaAccess
from services.runtime.outbox import OutboxRelay, backlog, enqueue
from services.runtime.topics import ensure_topics
from tests.support import PrivateKafka, eventually, kafka, read_topic

pytestmark = pytest.mark.infra


def grant(n: int) -> GrantAwarded:
    return GrantAwarded(
        grant_id=str(uuid.uuid4()),
        call_code=f"AAP-{n}",
        call_kind="regional-call",
        beneficiary="epn-ixelles",
        beneficiary_kind="epn",
        public="seniors",
        amount_eur="1000.00",
        awarded_on="2024-06-01",
    )


def envelope(subject: str, n: int) -> Envelope:
    return Envelope.wrap(grant(n), source="funding", subject=subject, actor=SYSTEM_ACTOR)


@contextlib.asynccontextmanager
async def relay_running(
    dsn: str, pool: asyncpg.Pool, bootstrap: str | KafkaAccess, **options: Any
) -> AsyncIterator[OutboxRelay]:
    """A relay publishing for ``pool``'s database while the block runs (``options``: OutboxRelay's)."""
    relay = OutboxRelay(dsn=dsn, pool=pool, kafka=kafka(bootstrap), poll_interval_s=0.2, **options)
    task = asyncio.create_task(relay.run())
    try:
        yield relay
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_the_relay_publishes_every_row_in_order_per_aggregate(
    outbox_db, kafka_bootstrap: str, topic_prefix: str
) -> None:
    dsn, pool = outbox_db
    topic = topic_prefix + TOPIC
    written: dict[str, list[str]] = defaultdict(list)
    async with relay_running(dsn, pool, kafka_bootstrap):
        for n in range(60):
            subject = f"grant-{n % 3}-{topic_prefix}"
            e = envelope(subject, n)
            written[subject].append(str(e.event_id))
            async with pool.acquire() as conn, conn.transaction():
                await enqueue(conn, topic, e)
        await eventually(lambda: _pending_is_zero(pool), what="outbox drained")
    records = [r for r in await read_topic(kafka_bootstrap, topic) if r.key.decode() in written]
    seen: dict[str, list[str]] = defaultdict(list)
    for r in records:
        seen[r.key.decode()].append(json.loads(r.value)["event_id"])
    assert seen == written
    headers = dict(records[0].headers)
    assert headers["event_type"] == b"GrantAwarded"


async def _pending_is_zero(pool: asyncpg.Pool) -> bool:
    return (await backlog(pool))["pending"] == 0


async def test_a_row_that_commits_late_is_not_skipped(outbox_db, kafka_bootstrap: str, topic_prefix: str) -> None:
    dsn, pool = outbox_db
    topic = topic_prefix + TOPIC
    early, late = envelope(f"early-{topic_prefix}", 1), envelope(f"late-{topic_prefix}", 2)
    async with relay_running(dsn, pool, kafka_bootstrap):
        slow = await pool.acquire()
        tx = slow.transaction()
        await tx.start()
        await enqueue(slow, topic, late)  # takes the lower id, commits last
        async with pool.acquire() as conn, conn.transaction():
            await enqueue(conn, topic, early)
        await eventually(lambda: _published(pool, early.event_id), what="the early row published")
        ids = await pool.fetch("SELECT id, event_id FROM outbox ORDER BY id")
        assert [r["event_id"] for r in ids] == [early.event_id], "the late row is not visible yet"
        await tx.commit()
        await pool.release(slow)
        await eventually(lambda: _published(pool, late.event_id), what="the late row published")
    published = {json.loads(r.value)["event_id"] for r in await read_topic(kafka_bootstrap, topic)}
    assert {str(early.event_id), str(late.event_id)} <= published


async def _published(pool: asyncpg.Pool, event_id: uuid.UUID) -> bool:
    return bool(await pool.fetchval("SELECT published_at IS NOT NULL FROM outbox WHERE event_id = $1", event_id))


async def test_an_outbox_row_survives_a_broker_outage(outbox_db, own_kafka: PrivateKafka) -> None:
    dsn, pool = outbox_db
    own_kafka.start_now()
    bootstrap = own_kafka.access
    await ensure_topics(bootstrap)
    first = envelope("grant-outage", 1)
    async with relay_running(dsn, pool, bootstrap) as relay:
        async with pool.acquire() as conn, conn.transaction():
            await enqueue(conn, TOPIC, first)
        await eventually(lambda: _published(pool, first.event_id), what="published before the outage")

        own_kafka.stop_now()
        during = envelope("grant-outage", 2)
        async with pool.acquire() as conn, conn.transaction():
            await enqueue(conn, TOPIC, during)
        await asyncio.sleep(3)
        state = await backlog(pool)
        assert state["pending"] == 1, "the row waits in the outbox while the broker is down"
        assert state["oldest_age_s"] >= 2.5

        own_kafka.start_now()
        await eventually(lambda: _published(pool, during.event_id), timeout=90, what="published after the outage")
        assert relay.published >= 2
    ids = [json.loads(r.value)["event_id"] for r in await read_topic(bootstrap, TOPIC)]
    assert ids.count(str(during.event_id)) >= 1
    assert ids.index(str(first.event_id)) < ids.index(str(during.event_id))
