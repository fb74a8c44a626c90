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

When a row cannot be published
------------------------------
Every row sent before a failure is marked published, and the failing row gets ``attempts`` and
``last_error``. The later rows of the failing row's aggregate (topic and key) are not marked in
that pass, so per-key order holds; the other aggregates flow. Two kinds of failure:

- an error of the record itself (too large for the broker, an invalid topic, a payload the relay
  cannot turn into a record) will never go away: the row is *parked* (``parked_at``), logged as an
  error and listed by ``backlog()`` (``GET /ops/outbox``). The query skips a parked row and every
  later row of its aggregate until an operator deals with it (raises the broker's limit and sets
  ``parked_at`` back to NULL, or deletes the row).
- any other broker error (a timeout, a partition without leader, an outage) is retried: the
  relay holds the key back in memory for a backoff that grows per key, and the query skips held
  keys, so more failing rows than ``batch_size`` never fill the window of the others.

Neither is a high-water mark: both exclude *keys*, never ids, so a late row is still read.

Leadership
----------
The advisory lock lives as long as the relay's own connection. Before every pass the leader asks
``pg_locks`` on that connection whether it still holds the lock; if the connection died (and a
replica may already have taken over) or the lock is gone, it stops publishing at once, closes its
producer and competes for the lock again. A pass already in flight when the connection dies may
still send its records: publication is at least once, and consumers deduplicate with the inbox.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence
from typing import Any

import asyncpg
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from passerelle_contracts import Envelope

from .db import Executor, connect
from .kafka_access import KafkaAccess
from .logs import get_logger
from .metrics import Metrics
from .outbox_faults import (
    BEHIND_PARKED,
    NOTIFY_CHANNEL,
    PRODUCER_BROKEN,
    RECORD_ERRORS,
    RETRY_DELAY_MAX_S,
    RETRY_DELAY_MIN_S,
    BatchResult,
    HeldKeys,
    Key,
    LeadershipLost,
    MalformedRow,
    ProducerRestart,
    RefusedInBatch,
    describe,
)
from .outbox_faults import (
    backlog as backlog,  # GET /ops/outbox; re-exported for the runtime and the tests
)

log = get_logger(__name__)

RELAY_LOCK_KEY = 7_231_118_002
CLEANUP_EVERY_S = 600.0
LOCK_CHECK_TIMEOUT_S = 5.0
# Unpublished rows in id order, except parked rows, the rows behind a parked row of their
# aggregate, and the keys held back in memory after a broker error ($2, $3: topics and keys).
SELECT_BATCH = f"""
SELECT id, event_id, topic, message_key, event_type, payload, payload::text AS body
FROM outbox o
WHERE published_at IS NULL AND parked_at IS NULL
  AND NOT {BEHIND_PARKED}
  AND (o.topic, o.message_key) NOT IN (SELECT h.topic, h.message_key
                                       FROM unnest($2::text[], $3::text[]) AS h (topic, message_key))
ORDER BY id
LIMIT $1"""  # noqa: S608 - built from constants

Sent = tuple[dict[int, BaseException | None], BaseException | None, bool]  # outcomes, unexpected, restart

# True while this connection holds the relay's lock (a bigint key: classid is its high half).
HOLDS_LOCK = """
SELECT EXISTS (SELECT 1 FROM pg_locks
               WHERE locktype = 'advisory' AND pid = pg_backend_pid() AND granted AND objsubid = 1
                 AND ((classid::bigint << 32) | objid::bigint) = $1)"""


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
        kafka: KafkaAccess,
        batch_size: int = 500,
        poll_interval_s: float = 1.0,
        keep_published_s: int = 7 * 24 * 3600,
        metrics: Metrics | None = None,
    ) -> None:
        self._dsn = dsn
        self._metrics = metrics
        self._pool = pool
        self._kafka = kafka
        self._batch_size = batch_size
        self._poll_interval_s = poll_interval_s
        self._keep_published_s = keep_published_s
        self._wake = asyncio.Event()
        self._held = HeldKeys()
        self._retry_delay_s = RETRY_DELAY_MIN_S
        self._one_at_a_time = False
        self.published = 0
        self.is_leader = False

    def wake(self, *_: object) -> None:
        self._wake.set()

    async def run(self) -> None:
        while True:  # _lead() only ever ends with an exception
            try:
                await self._lead()
            except asyncio.CancelledError:
                raise
            except Exception as error:  # noqa: BLE001 - the relay must outlive any outage
                self.is_leader = False
                delay = self._retry_delay_s
                log.warning("outbox relay interrupted, retrying", error=repr(error), retry_in_s=delay)
                await asyncio.sleep(delay)
                # Reset to RETRY_DELAY_MIN_S by the next pass that goes through.
                self._retry_delay_s = min(delay * 2, RETRY_DELAY_MAX_S)

    async def _lead(self) -> None:
        conn = await connect(self._dsn)
        producer: AIOKafkaProducer | None = None
        try:
            while not await conn.fetchval("SELECT pg_try_advisory_lock($1)", RELAY_LOCK_KEY):
                await asyncio.sleep(self._poll_interval_s)  # another replica's relay is publishing
            self.is_leader = True
            await conn.add_listener(NOTIFY_CHANNEL, self.wake)
            conn.add_termination_listener(self.wake)  # notice a lost lock connection at once
            producer = AIOKafkaProducer(
                **self._kafka.aiokafka(),
                enable_idempotence=True,
                acks="all",
                linger_ms=5,
                request_timeout_ms=15_000,
            )
            await producer.start()
            log.info("outbox relay publishing", bootstrap=self._kafka.bootstrap)
            last_cleanup = time.monotonic()
            while True:
                self._wake.clear()
                await self._check_leadership(conn)
                result = await self.publish_batch(producer)
                self._retry_delay_s = RETRY_DELAY_MIN_S  # a pass went through
                if time.monotonic() - last_cleanup > CLEANUP_EVERY_S:
                    await self._cleanup()
                    last_cleanup = time.monotonic()
                if result.read < self._batch_size:
                    # asyncio.timeout, not wait_for: Python 3.11's wait_for returns the inner
                    # result when it is cancelled just as the wait ends (a NOTIFY as the service
                    # stops), swallowing the cancellation, and the relay would never stop.
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(self._poll_interval_s):
                            await self._wake.wait()
        finally:
            was_leader, self.is_leader = self.is_leader, False
            if producer is not None:
                await producer.stop()
            if was_leader:
                log.info("outbox relay stopped publishing")
            with contextlib.suppress(Exception):  # a dead connection cannot be closed cleanly
                await conn.close(timeout=5)

    async def _check_leadership(self, conn: asyncpg.Connection) -> None:
        try:
            held = await conn.fetchval(HOLDS_LOCK, RELAY_LOCK_KEY, timeout=LOCK_CHECK_TIMEOUT_S)
        except Exception as error:
            self.is_leader = False
            log.error("outbox relay lost its lock connection; it stops publishing", error=repr(error))
            raise LeadershipLost("the relay's lock connection is lost") from error
        if not held:
            self.is_leader = False
            log.error("outbox relay no longer holds its lock; it stops publishing")
            raise LeadershipLost("the relay no longer holds its lock")

    async def publish_batch(self, producer: AIOKafkaProducer) -> BatchResult:
        held = self._held.now_held()
        rows = await self._pool.fetch(
            SELECT_BATCH, self._batch_size, [topic for topic, _ in held], [key for _, key in held]
        )
        if not rows:
            return BatchResult()
        if self._one_at_a_time:
            outcomes, unexpected, restart = await self._send_one_at_a_time(producer, rows)
        else:
            outcomes, unexpected, restart = await self._send_batched(producer, rows)
        result = await self._record(rows, outcomes, unexpected)
        if restart:
            # aiokafka does not reset an idempotent producer's sequence after the broker refused
            # a batch: every later record of that partition would fail. Start a new producer.
            raise ProducerRestart("the broker refused a record; the producer is replaced")
        return result

    async def _send_batched(self, producer: AIOKafkaProducer, rows: list[asyncpg.Record]) -> Sent:
        # send() appends to the partition's batch in call order and returns a future; awaiting
        # them together lets Kafka batch the records without reordering them. A row whose send()
        # raises is not sent, nor are the later rows of its aggregate; the others go on.
        outcomes: dict[int, BaseException | None] = {}
        futures: list[tuple[int, asyncio.Future[Any]]] = []
        refused: set[Key] = set()
        unexpected: BaseException | None = None
        for row in rows:
            key: Key = (row["topic"], row["message_key"])
            if key in refused:
                continue
            try:
                outcome, future = await self._send(producer, row)
            except Exception as error:  # noqa: BLE001 - recorded on the row, then raised
                outcomes[row["id"]] = error
                unexpected = error
                break
            if future is None:
                outcomes[row["id"]] = outcome
                refused.add(key)
            else:
                futures.append((row["id"], future))
        results = await asyncio.gather(*(f for _, f in futures), return_exceptions=True)
        restart = False
        for (row_id, _), outcome in zip(futures, results, strict=True):
            if isinstance(outcome, RECORD_ERRORS):
                # The broker refuses a whole batch for one record too large: which row it was
                # is found by sending them one at a time (the next passes, on a new producer).
                outcome = RefusedInBatch(describe(outcome))
                self._one_at_a_time = True
            restart = restart or isinstance(outcome, (RefusedInBatch, *PRODUCER_BROKEN))
            outcomes[row_id] = outcome if isinstance(outcome, BaseException) else None
        return outcomes, unexpected, restart

    async def _send_one_at_a_time(self, producer: AIOKafkaProducer, rows: list[asyncpg.Record]) -> Sent:
        """After the broker refused a batch: each record alone, so that only the guilty row is
        parked. Stops at the first refusal (the producer must be replaced); batching resumes after
        a window without one."""
        outcomes: dict[int, BaseException | None] = {}
        refused: set[Key] = set()
        for row in rows:
            key: Key = (row["topic"], row["message_key"])
            if key in refused:
                continue
            future: asyncio.Future[Any] | None = None
            try:
                outcome, future = await self._send(producer, row)
                if future is not None:
                    await future
            except Exception as error:  # noqa: BLE001 - sent alone, the error is this row's own
                outcome = error
            outcomes[row["id"]] = outcome
            if outcome is None:
                continue
            refused.add(key)
            if (isinstance(outcome, RECORD_ERRORS) and future is not None) or isinstance(outcome, PRODUCER_BROKEN):
                return outcomes, None, True  # refused by the broker: parked, producer replaced
            if not isinstance(outcome, (KafkaError, MalformedRow)):
                return outcomes, outcome, False
        self._one_at_a_time = False
        return outcomes, None, False

    async def _send(
        self, producer: AIOKafkaProducer, row: asyncpg.Record
    ) -> tuple[BaseException | None, asyncio.Future[Any] | None]:
        """(the row's error, None) when send() refuses it at once, else (None, its future); an
        error that is neither Kafka's nor the row's is raised."""
        try:
            value, headers = row["body"].encode(), headers_of(row)
        except Exception as error:  # noqa: BLE001 - a payload that makes no record: parked
            return MalformedRow(describe(error)), None
        try:
            future = await producer.send(row["topic"], value, key=row["message_key"].encode(), headers=headers)
        except KafkaError as error:  # checked before sending (too large for max_request_size, …)
            return error, None
        return None, future

    async def _record(
        self,
        rows: list[asyncpg.Record],
        outcomes: dict[int, BaseException | None],
        unexpected: BaseException | None,
    ) -> BatchResult:
        """Mark what was published, write the errors, park what can never be sent."""
        result = BatchResult(read=len(rows))
        done: list[int] = []
        errors: list[tuple[int, str, bool]] = []
        failed_keys: set[Key] = set()
        ok_keys: set[Key] = set()
        for row in rows:
            key: Key = (row["topic"], row["message_key"])
            if row["id"] not in outcomes or key in failed_keys:
                # Not tried, or behind a failed row of its aggregate: sent again after it.
                failed_keys.add(key)
                continue
            outcome = outcomes[row["id"]]
            if outcome is None:
                done.append(row["id"])
                ok_keys.add(key)
                continue
            failed_keys.add(key)
            park = isinstance(outcome, (*RECORD_ERRORS, MalformedRow))
            errors.append((row["id"], describe(outcome), park))
            if park:
                log.error(
                    "outbox row PARKED: the broker will never accept it; later events of its aggregate"
                    " are held back until an operator acts (see GET /ops/outbox)",
                    outbox_id=row["id"],
                    event_id=str(row["event_id"]),
                    event_type=row["event_type"],
                    topic=row["topic"],
                    message_key=row["message_key"],
                    size_bytes=len(row["body"]),
                    error=describe(outcome),
                )
            elif outcome is not unexpected and not isinstance(outcome, (RefusedInBatch, *PRODUCER_BROKEN)):
                self._held.fail(key)  # not the row's fault otherwise: tried again at once
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute("UPDATE outbox SET published_at = now() WHERE id = ANY($1::bigint[])", done)
            if errors:
                await conn.executemany(
                    """UPDATE outbox SET attempts = attempts + 1, last_error = $2,
                              parked_at = CASE WHEN $3 THEN clock_timestamp() END
                       WHERE id = $1""",
                    errors,
                )
        for key in ok_keys - failed_keys:
            self._held.succeed(key)
        if self._metrics is not None:
            types = {row["id"]: row["event_type"] for row in rows}
            for row_id in done:
                self._metrics.events_published(types[row_id], "published").inc()
            for row_id, _, park in errors:
                self._metrics.events_published(types[row_id], "parked" if park else "failed").inc()
        self.published += len(done)
        result.published = len(done)
        result.parked = sum(1 for _, _, park in errors if park)
        result.failed = len(errors) - result.parked
        if result.failed:
            log.warning(
                "outbox rows not published, retried later",
                failed=result.failed,
                published=result.published,
                error=next(e for _, e, park in errors if not park),
            )
        if unexpected is not None:
            raise unexpected
        return result

    async def _cleanup(self) -> None:
        deleted = await self._pool.execute(
            "DELETE FROM outbox WHERE published_at < now() - make_interval(secs => $1)", float(self._keep_published_s)
        )
        log.debug("outbox cleanup", result=deleted)
