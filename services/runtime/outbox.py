"""Transactional outbox: events are written in the same transaction as the state they describe,
and a relay publishes them to Kafka afterwards (at least once, in order per aggregate).

Why the relay never skips a row that commits late
-------------------------------------------------
``bigserial`` ids are handed out when a row is *inserted*, not when its transaction commits,
so a row with id 10 can become visible after row 11 was already read. A relay that remembers
"the last id I published" would then skip row 10 for ever. This relay keeps no high-water
mark: every pass reads *all* rows whose ``published_at`` is NULL, in id order, so a late row is
simply picked up by the next pass. (Sequence values are allocated outside transactions and
never rolled back: https://www.postgresql.org/docs/current/functions-sequence.html.) The cost
is that a late row is published after rows with higher ids of *other* aggregates, which
nothing relies on, and that the relay never needs a gap-detection timeout.

Order within one aggregate holds because services lock the aggregate's row before they write
its outbox row, so two transactions on one aggregate allocate their ids in commit order. One
relay per database publishes (a session advisory lock elects it), and Kafka's idempotent
producer keeps per-partition order across its own retries.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence
from typing import Any

import asyncpg
from aiokafka import AIOKafkaProducer
from passerelle_contracts import Envelope

from .db import Executor, connect
from .logs import get_logger

log = get_logger(__name__)

NOTIFY_CHANNEL = "passerelle_outbox"
RELAY_LOCK_KEY = 7_231_118_002
RETRY_DELAY_MAX_S = 10.0
CLEANUP_EVERY_S = 600.0


async def enqueue(conn: Executor, topic: str, envelope: Envelope) -> None:
    """Add an event to the outbox, inside the caller's transaction."""
    await conn.execute(
        "INSERT INTO outbox (event_id, topic, message_key, event_type, payload) VALUES ($1, $2, $3, $4, $5)",
        envelope.event_id,
        topic,
        envelope.subject,
        envelope.event_type,
        envelope.model_dump(mode="json"),
    )


async def enqueue_many(conn: Executor, items: Sequence[tuple[str, Envelope]]) -> None:
    await conn.executemany(
        "INSERT INTO outbox (event_id, topic, message_key, event_type, payload) VALUES ($1, $2, $3, $4, $5)",
        [(e.event_id, t, e.subject, e.event_type, e.model_dump(mode="json")) for t, e in items],
    )


async def backlog(pool: asyncpg.Pool) -> dict[str, Any]:
    row = await pool.fetchrow(
        """SELECT count(*) AS pending,
                  coalesce(extract(epoch FROM clock_timestamp() - min(created_at)), 0) AS oldest_age_s
           FROM outbox WHERE published_at IS NULL"""
    )
    assert row is not None  # an aggregate without GROUP BY always returns one row
    return {"pending": row["pending"], "oldest_age_s": round(float(row["oldest_age_s"]), 3)}


def headers_of(row: asyncpg.Record) -> list[tuple[str, bytes]]:
    payload = row["payload"]
    return [
        ("content-type", b"application/json"),
        ("event_type", row["event_type"].encode()),
        ("event_id", str(row["event_id"]).encode()),
        ("correlation_id", str(payload["correlation_id"]).encode()),
    ]


class OutboxRelay:
    """Publishes unpublished outbox rows; wakes on NOTIFY, polls as a fallback."""

    def __init__(
        self,
        *,
        dsn: str,
        pool: asyncpg.Pool,
        bootstrap: str,
        batch_size: int = 500,
        poll_interval_s: float = 1.0,
        keep_published_s: int = 7 * 24 * 3600,
    ) -> None:
        self._dsn = dsn
        self._pool = pool
        self._bootstrap = bootstrap
        self._batch_size = batch_size
        self._poll_interval_s = poll_interval_s
        self._keep_published_s = keep_published_s
        self._wake = asyncio.Event()
        self.published = 0
        self.is_leader = False

    def wake(self, *_: object) -> None:
        self._wake.set()

    async def run(self) -> None:
        delay = 0.5
        while True:
            try:
                await self._lead()
            except asyncio.CancelledError:
                raise
            except Exception as error:  # noqa: BLE001 - the relay must outlive any outage
                self.is_leader = False
                log.warning("outbox relay interrupted, retrying", error=repr(error), retry_in_s=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_DELAY_MAX_S)
            else:
                delay = 0.5

    async def _lead(self) -> None:
        conn = await connect(self._dsn)
        producer: AIOKafkaProducer | None = None
        try:
            while not await conn.fetchval("SELECT pg_try_advisory_lock($1)", RELAY_LOCK_KEY):
                await asyncio.sleep(self._poll_interval_s)  # another replica's relay is publishing
            self.is_leader = True
            await conn.add_listener(NOTIFY_CHANNEL, self.wake)
            producer = AIOKafkaProducer(
                bootstrap_servers=self._bootstrap,
                enable_idempotence=True,
                acks="all",
                linger_ms=5,
                request_timeout_ms=15_000,
            )
            await producer.start()
            log.info("outbox relay publishing", bootstrap=self._bootstrap)
            last_cleanup = time.monotonic()
            while True:
                self._wake.clear()
                sent = await self.publish_batch(producer)
                if time.monotonic() - last_cleanup > CLEANUP_EVERY_S:
                    await self._cleanup()
                    last_cleanup = time.monotonic()
                if sent < self._batch_size:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), timeout=self._poll_interval_s)
        finally:
            self.is_leader = False
            if producer is not None:
                await producer.stop()
            await conn.close(timeout=5)

    async def publish_batch(self, producer: AIOKafkaProducer) -> int:
        rows = await self._pool.fetch(
            """SELECT id, event_id, topic, message_key, event_type, payload, payload::text AS body
               FROM outbox WHERE published_at IS NULL ORDER BY id LIMIT $1""",
            self._batch_size,
        )
        if not rows:
            return 0
        # send() appends to the partition's batch in call order and returns a future; awaiting
        # them together lets Kafka batch the records without reordering them.
        futures = [
            await producer.send(
                row["topic"], row["body"].encode(), key=row["message_key"].encode(), headers=headers_of(row)
            )
            for row in rows
        ]
        results = await asyncio.gather(*futures, return_exceptions=True)
        done: list[int] = []
        failed_keys: set[tuple[str, str]] = set()
        errors: list[tuple[int, str]] = []
        for row, result in zip(rows, results, strict=True):
            key = (row["topic"], row["message_key"])
            if isinstance(result, BaseException) or key in failed_keys:
                # Leave it and every later row of the same aggregate for the next pass.
                failed_keys.add(key)
                errors.append((row["id"], repr(result) if isinstance(result, BaseException) else "earlier row failed"))
            else:
                done.append(row["id"])
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute("UPDATE outbox SET published_at = now() WHERE id = ANY($1::bigint[])", done)
            if errors:
                await conn.executemany(
                    "UPDATE outbox SET attempts = attempts + 1, last_error = $2 WHERE id = $1", errors
                )
        self.published += len(done)
        if errors:
            raise RuntimeError(f"{len(errors)} outbox rows not published: {errors[0][1]}")
        return len(done)

    async def _cleanup(self) -> None:
        deleted = await self._pool.execute(
            "DELETE FROM outbox WHERE published_at < now() - make_interval(secs => $1)", float(self._keep_published_s)
        )
        log.debug("outbox cleanup", result=deleted)
