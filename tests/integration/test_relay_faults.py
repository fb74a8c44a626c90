"""The outbox relay under faults: an event the broker refuses, a broker error on some keys, a
lost leader lock, and the retry backoff (issue 9, "Outbox relay")."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaConnectionError, KafkaTimeoutError
from passerelle_contracts import SYSTEM_ACTOR, Envelope
from passerelle_contracts.funding_v1 import TOPIC

from services.runtime import outbox
from services.runtime.metrics import Metrics
from services.runtime.outbox import RELAY_LOCK_KEY, OutboxRelay, backlog, enqueue
from services.runtime.outbox_faults import backlog_counts
from tests.integration.test_outbox import envelope, grant, relay_running
from tests.support import eventually, kafka, read_topic

pytestmark = pytest.mark.infra

OVER_ONE_MIB = 1_100_000  # the producer's and the broker's default limit is 1 MiB


def oversized(subject: str) -> Envelope:
    data = grant(0).model_copy(update={"beneficiary": "x" * OVER_ONE_MIB})
    return Envelope.wrap(data, source="funding", subject=subject, actor=SYSTEM_ACTOR)


async def write(pool: asyncpg.Pool, topic: str, *envelopes: Envelope) -> None:
    for e in envelopes:  # one transaction each, as use cases do
        async with pool.acquire() as conn, conn.transaction():
            await enqueue(conn, topic, e)


async def row(pool: asyncpg.Pool, e: Envelope) -> asyncpg.Record:
    found = await pool.fetchrow(
        "SELECT published_at, parked_at, attempts, last_error FROM outbox WHERE event_id = $1", e.event_id
    )
    assert found is not None
    return found


def all_published(pool: asyncpg.Pool, *envelopes: Envelope) -> Any:
    async def check() -> bool:
        return all([(await row(pool, e))["published_at"] is not None for e in envelopes])

    return check


async def test_an_event_too_large_for_the_broker_is_parked_and_the_other_aggregates_flow(
    outbox_db, kafka_bootstrap: str, topic_prefix: str
) -> None:
    dsn, pool = outbox_db
    topic = topic_prefix + TOPIC
    a, b, c = (f"{name}-{uuid.uuid4()}" for name in "abc")
    a1, a2, too_big, b2, c1 = envelope(a, 1), envelope(a, 2), oversized(b), envelope(b, 3), envelope(c, 4)
    await write(pool, topic, a1, a2, too_big, b2, c1)  # one batch: rows before, after, of other keys

    metrics = Metrics("funding")
    async with relay_running(dsn, pool, kafka_bootstrap, metrics=metrics) as relay:
        await eventually(all_published(pool, a1, a2, c1), timeout=15, what="the rows of the other aggregates")
        await asyncio.sleep(1)  # several more passes
        a3 = envelope(a, 5)
        await write(pool, topic, a3)
        await eventually(all_published(pool, a3), timeout=15, what="a later row: the outbox still flows")

        parked = await row(pool, too_big)
        assert parked["published_at"] is None and parked["parked_at"] is not None
        assert parked["attempts"] == 1 and "MessageSizeTooLarge" in parked["last_error"]
        held = await row(pool, b2)
        assert held["published_at"] is None and held["attempts"] == 0, "held back behind its aggregate's parked row"
        state = await backlog(pool)
        assert state["pending"] == 2 and state["parked"] == 1 and state["held_back"] == 1
        assert [p["event_id"] for p in state["parked_rows"]] == [str(too_big.event_id)]
        assert "MessageSizeTooLarge" in state["parked_rows"][0]["last_error"]
        assert relay.is_leader
        await pool.execute(  # an hour later, nothing else to publish: the parked row does not make the outbox "stuck"
            "UPDATE outbox SET created_at = created_at - interval '1 hour' WHERE event_id = ANY($1::uuid[])",
            [too_big.event_id, b2.event_id],
        )
        counts = await backlog_counts(pool)
        assert (counts["pending"], counts["parked"], counts["oldest_age_s"]) == (2, 1, 0), (
            "the oldest age is of the rows the relay tries: parked rows and the rows behind them have their own alert"
        )
        published = metrics.registry.get_sample_value
        assert (
            published("passerelle_events_published_total", {"event_type": "GrantAwarded", "outcome": "published"}) == 4
        )
        assert published("passerelle_events_published_total", {"event_type": "GrantAwarded", "outcome": "parked"}) == 1

    seen: dict[str, list[str]] = {a: [], b: [], c: []}
    for r in await read_topic(kafka_bootstrap, topic, timeout=10):
        if r.key.decode() in seen:
            seen[r.key.decode()].append(json.loads(r.value)["event_id"])
    assert seen == {a: [str(e.event_id) for e in (a1, a2, a3)], b: [], c: [str(c1.event_id)]}, (
        "each sent once, in order"
    )


async def test_parked_rows_do_not_fill_the_read_window(outbox_db, kafka_bootstrap: str, topic_prefix: str) -> None:
    dsn, pool = outbox_db
    topic = topic_prefix + TOPIC
    too_big = [oversized(f"big-{n}-{uuid.uuid4()}") for n in range(5)]
    fine = envelope(f"fine-{uuid.uuid4()}", 1)
    await write(pool, topic, *too_big, fine)

    async with relay_running(dsn, pool, kafka_bootstrap, batch_size=2):
        await eventually(all_published(pool, fine), timeout=15, what="the row behind five parked rows")
    assert (await backlog(pool))["parked"] == 5


async def test_a_record_the_broker_refuses_is_parked_and_the_records_batched_with_it_are_published(
    outbox_db, kafka_bootstrap: str, topic_prefix: str
) -> None:
    dsn, pool = outbox_db
    topic = f"{topic_prefix}relay-small-{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(**kafka(kafka_bootstrap).aiokafka())
    await admin.start()
    try:  # one partition: every record lands in the same producer batch
        await admin.create_topics([NewTopic(topic, 1, 1, topic_configs={"max.message.bytes": "4000"})])
    finally:
        await admin.close()
    before, after = envelope(f"small-{uuid.uuid4()}", 1), envelope(f"small-{uuid.uuid4()}", 2)
    big = Envelope.wrap(
        grant(0).model_copy(update={"beneficiary": "x" * 10_000}), source="funding", subject="big", actor=SYSTEM_ACTOR
    )
    await write(pool, topic, before, big, after)

    async with relay_running(dsn, pool, kafka_bootstrap):
        await eventually(all_published(pool, before, after), timeout=30, what="the records around the refused one")
        parked = await row(pool, big)
        assert parked["parked_at"] is not None and parked["attempts"] >= 1
    ids = {json.loads(r.value)["event_id"] for r in await read_topic(kafka_bootstrap, topic, timeout=10)}
    assert ids == {str(before.event_id), str(after.event_id)}


@dataclass
class Script:
    """What a stand-in for AIOKafkaProducer does: start() fails `start_failures` times; send()
    fails for keys that begin with `failing_prefix` (a broker error, on the record's future) and
    raises `raise_for_key`'s error for that one key."""

    start_failures: int = 0
    failing_prefix: str = "\x00"
    raise_for_key: dict[str, Exception] = field(default_factory=dict)
    started_at: list[float] = field(default_factory=list)
    sent: list[str] = field(default_factory=list)

    def producer(self, **_: Any) -> ScriptedProducer:
        return ScriptedProducer(self)


class ScriptedProducer:
    def __init__(self, script: Script) -> None:
        self.script = script

    async def start(self) -> None:
        self.script.started_at.append(time.monotonic())
        if self.script.start_failures > 0:
            self.script.start_failures -= 1
            raise KafkaConnectionError("scripted: broker unreachable")

    async def stop(self) -> None:
        pass

    async def send(self, topic: str, value: bytes, *, key: bytes, headers: Any = None) -> asyncio.Future[None]:
        k = key.decode()
        if k in self.script.raise_for_key:
            raise self.script.raise_for_key[k]
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if k.startswith(self.script.failing_prefix):
            future.set_exception(KafkaTimeoutError("scripted: batch expired"))
        else:
            self.script.sent.append(json.loads(value)["event_id"])
            future.set_result(None)
        return future


async def test_rows_failing_on_a_broker_error_do_not_starve_the_rows_of_other_keys(
    outbox_db, monkeypatch: pytest.MonkeyPatch
) -> None:
    dsn, pool = outbox_db
    script = Script(failing_prefix="stuck-")
    monkeypatch.setattr(outbox, "AIOKafkaProducer", script.producer)
    stuck = [envelope(f"stuck-{n}", n) for n in range(5)]
    fine = envelope("fine", 9)
    await write(pool, TOPIC, *stuck, fine)

    async with relay_running(dsn, pool, "unused:9092", batch_size=2):
        await eventually(all_published(pool, fine), timeout=10, what="the row behind five failing keys")
        assert script.sent == [str(fine.event_id)]
        for e in stuck:
            r = await row(pool, e)
            assert r["published_at"] is None and r["parked_at"] is None, "a broker error is retried, not parked"
            assert r["attempts"] >= 1 and "KafkaTimeoutError" in r["last_error"]


async def test_the_retry_backoff_starts_small_again_after_a_successful_pass(
    outbox_db, monkeypatch: pytest.MonkeyPatch
) -> None:
    dsn, pool = outbox_db
    script = Script(start_failures=3)  # retried after 0.5, 1 and 2 s: the backoff grows to 4 s
    monkeypatch.setattr(outbox, "AIOKafkaProducer", script.producer)
    first = envelope("first", 1)
    await write(pool, TOPIC, first)
    async with relay_running(dsn, pool, "unused:9092"):
        await eventually(all_published(pool, first), timeout=15, what="published once the broker answers")
        assert len(script.started_at) == 4
        script.raise_for_key["second"] = RuntimeError("scripted: a new failure")
        await write(pool, TOPIC, envelope("second", 2))
        failed_at = time.monotonic()
        await eventually(lambda: len(script.started_at) == 5, timeout=10, what="the relay retrying")
    assert script.started_at[4] - failed_at < 2.0, "retried after the initial delay, not the grown one"


async def test_a_relay_that_loses_its_lock_connection_stops_publishing_until_it_leads_again(
    outbox_db, kafka_bootstrap: str, topic_prefix: str
) -> None:
    dsn, pool = outbox_db
    topic = topic_prefix + TOPIC
    before, meanwhile = envelope(f"lead-{uuid.uuid4()}", 1), envelope(f"lead-{uuid.uuid4()}", 2)
    other = await asyncpg.connect(dsn)  # plays a second replica's relay
    try:
        async with relay_running(dsn, pool, kafka_bootstrap) as relay:
            await write(pool, topic, before)
            await eventually(all_published(pool, before), timeout=15, what="published while leading")
            leader_pid = await pool.fetchval(
                "SELECT l.pid FROM pg_locks l JOIN pg_database d ON d.oid = l.database"
                " WHERE d.datname = current_database() AND l.locktype = 'advisory' AND l.granted"
                " AND ((l.classid::bigint << 32) | l.objid::bigint) = $1",
                RELAY_LOCK_KEY,
            )
            assert leader_pid is not None
            # The other replica queues for the lock, then the leader's lock connection dies.
            takeover = asyncio.create_task(other.execute("SELECT pg_advisory_lock($1)", RELAY_LOCK_KEY))
            await asyncio.sleep(0.2)
            assert await pool.fetchval("SELECT pg_terminate_backend($1)", leader_pid)
            await asyncio.wait_for(takeover, timeout=10)

            await eventually(lambda: not relay.is_leader, timeout=5, what="the old leader standing down")
            published = relay.published
            await write(pool, topic, meanwhile)
            await asyncio.sleep(2)
            assert (await row(pool, meanwhile))["published_at"] is None, "published by a relay that is not the leader"
            assert relay.published == published and not relay.is_leader

            await other.execute("SELECT pg_advisory_unlock($1)", RELAY_LOCK_KEY)
            await eventually(all_published(pool, meanwhile), timeout=15, what="published once it leads again")
            assert relay.is_leader
    finally:
        await other.close()


async def test_a_relay_woken_at_the_moment_it_is_cancelled_still_stops(outbox_db, kafka_bootstrap: str) -> None:
    """Python 3.11's ``asyncio.wait_for`` returns the inner result when it is cancelled just as the
    inner wait completes, swallowing the cancellation: a relay woken by a commit while the service
    stopped went on publishing, and the stop waited for it for ever (a test's teardown that hung)."""
    dsn, pool = outbox_db
    for _ in range(3):
        relay = OutboxRelay(dsn=dsn, pool=pool, kafka=kafka(kafka_bootstrap), poll_interval_s=1.0)
        task = asyncio.create_task(relay.run())

        def leads(relay: OutboxRelay = relay) -> bool:
            return relay.is_leader

        await eventually(leads, timeout=15, what="the relay leads")
        await asyncio.sleep(0.3)  # idle: waiting to be woken
        relay.wake()  # a commit's NOTIFY ...
        task.cancel()  # ... as the service stops
        done, _ = await asyncio.wait({task}, timeout=5)
        assert done == {task} and task.cancelled(), "the relay stopped when cancelled"
