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

Neither is a high-water mark: both exclude *keys*, so a late row is still read. The only ids a
read skips are listed one by one: rows this relay has just sent (see below).

Leadership
----------
The advisory lock lives as long as the relay's own connection. Before every pass the leader asks
``pg_locks`` on that connection whether it still holds the lock; if the connection died (and a
replica may already have taken over) or the lock is gone, it stops publishing at once, closes its
producer and competes for the lock again. A pass already in flight when the connection dies may
still send its records: publication is at least once, and consumers deduplicate with the inbox.
The relay also reads its rows on that connection, so a relay that lost it reads nothing more.

Keeping up with the producer
----------------------------
A burst (a consumer catching up, a bulk intake) must not leave the outbox behind, so a pass
leaves to the database and to batches what they do better than a loop over rows:

- A pass reads up to ``batch_size`` rows (``outbox_batch_size``) and, as text, what their records
  need: the body (``payload::text``), the event id and ``payload->>'correlation_id'``; the jsonb
  is not decoded into a dict per row. The read's plan is pinned (``READ_PLAN``) to the partial
  index of unpublished rows, walked in id order and left after the batch: with missing statistics
  (a new database) or stale ones (a burst after days of published rows) the planner may scan and
  sort the whole backlog instead, at every pass.
- One UPDATE marks a pass's published rows; metrics are counted per event type, not per row; the
  records' futures are awaited in order (a producer batch completes its futures together), not
  through gather(), which adds a callback per record.
- The database's reads overlap with sending, only where no failure can come between. While a
  full pass sends, the next batch is read ahead, skipping the rows being sent by id. When every
  row of a full pass was published, its marking starts at once and the next pass checks its
  leadership meanwhile, but sends nothing before that marking has committed: a pass whose
  marking failed is sent again before anything newer of its keys, as after any failure between
  sending and marking (a resent event never follows a newer one of its aggregate). A pass with
  any failure (a failed or refused row, a broker error, a producer restart) records in line and
  drops what was read ahead: the rows behind a failure may be read only once the failed key, the
  parked row or the held key is in the database and in memory. Rows read ahead are sent after
  the next pass's leadership check, and after the rows of their aggregate sent before them (one
  aggregate's ids follow its commit order); a row that commits after the read ahead is read by a
  later pass (its NOTIFY keeps the relay awake).
- The relay's producer settings are ``PRODUCER_SETTINGS``; ``benchmarks.relay`` gives the same to
  the raw producer it compares the relay with.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import Coroutine, Sequence
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
# The relay's producer (benchmarks.relay gives a raw producer the same, to compare them).
# max_batch_size stays aiokafka's 16 KiB: 256 KiB measured about 1.7 times the relay's rate on
# the development machine, and twice the raw producer's (issue 15), a choice left open.
PRODUCER_SETTINGS: dict[str, Any] = {
    "enable_idempotence": True,
    "acks": "all",
    "linger_ms": 5,
    "request_timeout_ms": 15_000,
}
# Unpublished rows in id order, except parked rows, the rows behind a parked row of their
# aggregate, the keys held back in memory after a broker error ($2, $3: topics and keys) and the
# rows being sent or being marked published ($4: ids; see "Keeping up with the producer").
# What a record needs comes as text: the body (payload::text, the JSON the consumers read) and
# the header values, not the jsonb decoded into a dict per row only to read one field of it.
SELECT_BATCH = f"""
SELECT id, event_id::text AS event_id, topic, message_key, event_type,
       payload->>'correlation_id' AS correlation_id, payload::text AS body
FROM outbox o
WHERE published_at IS NULL AND parked_at IS NULL
  AND NOT {BEHIND_PARKED}
  AND (o.topic, o.message_key) NOT IN (SELECT h.topic, h.message_key
                                       FROM unnest($2::text[], $3::text[]) AS h (topic, message_key))
  AND o.id NOT IN (SELECT unnest($4::bigint[]))
ORDER BY id
LIMIT $1"""  # noqa: S608 - built from constants
# The read must walk the partial index outbox_unpublished in id order and stop after batch_size
# rows. On a table without statistics (a new database) or with stale ones (a burst after days
# of published rows), the planner may scan every unpublished row (a bitmap scan, or the whole
# table) and sort them instead: each pass then costs the whole backlog (measured: 140 ms instead
# of 16 for 5000 rows out of 10000), and draining a burst costs backlog² / batch_size. Set on
# the relay's own connection only (the read runs there), these leave it the index scan.
READ_PLAN = "SET enable_bitmapscan = off; SET enable_seqscan = off"

Sent = tuple[dict[int, BaseException | None], BaseException | None, bool]  # outcomes, unexpected, restart

# True while this connection holds the relay's lock (a bigint key: classid is its high half).
HOLDS_LOCK = """
SELECT EXISTS (SELECT 1 FROM pg_locks
               WHERE locktype = 'advisory' AND pid = pg_backend_pid() AND granted AND objsubid = 1
                 AND ((classid::bigint << 32) | objid::bigint) = $1)"""


# The payload goes as the envelope's JSON text, cast by the server: pydantic writes that text in
# one pass, where a dict (model_dump) encoded again as JSON costs two, for every event emitted.
INSERT = """INSERT INTO outbox (event_id, topic, message_key, event_type, payload)
            VALUES ($1, $2, $3, $4, $5::text::jsonb)"""


async def enqueue(conn: Executor, topic: str, envelope: Envelope) -> None:
    """Add an event to the outbox, inside the caller's transaction."""
    await enqueue_many(conn, [(topic, envelope)])


async def enqueue_many(conn: Executor, items: Sequence[tuple[str, Envelope]]) -> None:
    """Add events to the outbox with one statement, inside the caller's transaction."""
    await conn.executemany(
        INSERT, [(e.event_id, topic, e.subject, e.event_type, e.model_dump_json()) for topic, e in items]
    )


def _retrieve(task: asyncio.Task[Any]) -> None:
    """Mark a task's error as retrieved: a read ahead that is dropped may fail unawaited."""
    if not task.cancelled():
        task.exception()


def headers_of(row: asyncpg.Record) -> list[tuple[str, bytes]]:
    correlation_id = row["correlation_id"]
    if correlation_id is None:
        raise MalformedRow("the payload has no correlation_id")
    return [
        ("content-type", b"application/json"),
        ("event_type", row["event_type"].encode()),
        ("event_id", row["event_id"].encode()),
        ("correlation_id", correlation_id.encode()),
    ]


class OutboxRelay:
    """Publishes unpublished outbox rows; wakes on NOTIFY, polls as a fallback."""

    def __init__(
        self,
        *,
        dsn: str,
        pool: asyncpg.Pool,
        kafka: KafkaAccess,
        batch_size: int = 5000,  # the default of outbox_batch_size (settings)
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
        # The previous pass's rows being marked published while this pass reads and sends, and
        # their ids (see publish_batch).
        self._marking: tuple[asyncio.Task[BatchResult], list[int]] | None = None
        self._read_ahead: list[asyncpg.Record] | None = None  # the next pass's rows, read during this one
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
            await conn.execute(READ_PLAN)
            await conn.add_listener(NOTIFY_CHANNEL, self.wake)
            conn.add_termination_listener(self.wake)  # notice a lost lock connection at once
            producer = AIOKafkaProducer(**self._kafka.aiokafka(), **PRODUCER_SETTINGS)
            await producer.start()
            log.info("outbox relay publishing", bootstrap=self._kafka.bootstrap)
            last_cleanup = time.monotonic()
            while True:
                await self._check_leadership(conn)
                result = await self.publish_batch(producer, conn)
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
            self._read_ahead = None  # read while leading: a new lead reads again
            if producer is not None:
                await producer.stop()
            if was_leader:
                log.info("outbox relay stopped publishing")
            with contextlib.suppress(Exception):  # a dead connection cannot be closed cleanly
                await conn.close(timeout=5)
            try:  # the rows of the last pass were sent: mark them (on the pool), whatever ended the lead
                await self._marked()
            except Exception as error:  # noqa: BLE001 - they are sent again: at least once
                log.warning("outbox rows sent but not marked published; sent again later", error=repr(error))

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

    async def publish_batch(self, producer: AIOKafkaProducer, conn: asyncpg.Connection) -> BatchResult:
        """One pass: read on the relay's own connection (``READ_PLAN``), send, record.

        While a full pass sends, the next pass's rows are read ahead; a full pass whose every row
        was published has its rows marked while the next pass checks its leadership, and the next
        pass sends once that marking has committed. Both only ever skip rows by id, and both are
        used only when the pass went through without a failure: see the module's docstring."""
        # The last pass's rows are marked before this pass sends anything: were that marking to
        # fail (or the process to die), they would be sent again *after* this pass's newer events
        # of the same keys, and a reader that does not deduplicate would see an aggregate go back.
        await self._marked()  # committed (or failed: the error ends the lead before a send)
        rows, self._read_ahead = self._read_ahead, None
        if rows is None:
            rows = await self._read(conn, [])
        if not rows:
            await self._marked()
            return BatchResult()
        ahead: asyncio.Task[list[asyncpg.Record]] | None = None
        if len(rows) == self._batch_size and not self._one_at_a_time:  # more rows are likely
            ahead = asyncio.create_task(self._read(conn, [row["id"] for row in rows]), name="outbox-relay-read-ahead")
            ahead.add_done_callback(_retrieve)  # an error is raised where it is awaited, or dropped
            await asyncio.sleep(0)  # the query goes out now, not when the sends first yield
        try:
            if self._one_at_a_time:
                outcomes, unexpected, restart = await self._send_one_at_a_time(producer, rows)
            else:
                outcomes, unexpected, restart = await self._send_batched(producer, rows)
            clean = unexpected is None and not restart and len(outcomes) == len(rows)
            if clean and all(outcome is None for outcome in outcomes.values()) and ahead is not None:
                # Nothing failed, nothing to park or hold back: the rows read ahead are what the
                # next pass would read, and it does not depend on this marking, only on these
                # rows not being read again.
                task = asyncio.create_task(self._record(rows, outcomes, None), name="outbox-relay-marking")
                task.add_done_callback(_retrieve)  # raised by _marked(), unless the relay is gone
                self._marking = (task, [row["id"] for row in rows])
                self._read_ahead, ahead = await ahead, None
                return BatchResult(read=len(rows), published=len(rows))
            result = await self._record(rows, outcomes, unexpected)
        finally:
            if ahead is not None:  # read before this pass's failures were known: read again
                await asyncio.wait({ahead})  # the connection is free again (the lock check uses it)
        if restart:
            # aiokafka does not reset an idempotent producer's sequence after the broker refused
            # a batch: every later record of that partition would fail. Start a new producer.
            raise ProducerRestart("the broker refused a record; the producer is replaced")
        return result

    def _read(self, conn: asyncpg.Connection, sending: list[int]) -> Coroutine[Any, Any, list[asyncpg.Record]]:
        """The next rows to send, skipping ``sending`` and the rows being marked published. The
        arguments are taken now, even if the read is awaited later. A NOTIFY that arrives after
        this point wakes the relay: the rows it announces may be missing from this read."""
        self._wake.clear()
        held = self._held.now_held()
        skipped = sending + self._marking[1] if self._marking is not None else sending
        return conn.fetch(
            SELECT_BATCH, self._batch_size, [topic for topic, _ in held], [key for _, key in held], skipped
        )

    async def _marked(self) -> None:
        """Wait until the previous pass's rows are marked published (raises what marking raised).
        Shielded: a relay cancelled meanwhile (a service stopping) still marks what it sent."""
        if self._marking is None:
            return
        task = self._marking[0]
        try:
            await asyncio.shield(task)
        finally:
            if task.done():
                self._marking = None

    async def _send_batched(self, producer: AIOKafkaProducer, rows: list[asyncpg.Record]) -> Sent:
        # send() appends to the partition's batch in call order and returns a future; awaiting
        # them after all the sends lets Kafka batch the records without reordering them. A row
        # whose send() raises is not sent, nor are the later rows of its aggregate; the others go on.
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
        restart = False
        for row_id, future in futures:
            if not future.done():
                # A wait per future still pending, not a callback per record as with gather():
                # the futures of a producer batch complete together, most are done when reached.
                await asyncio.wait((future,))
            outcome = asyncio.CancelledError() if future.cancelled() else future.exception()
            if isinstance(outcome, RECORD_ERRORS):
                # The broker refuses a whole batch for one record too large: which row it was
                # is found by sending them one at a time (the next passes, on a new producer).
                outcome = RefusedInBatch(describe(outcome))
                self._one_at_a_time = True
            restart = restart or isinstance(outcome, (RefusedInBatch, *PRODUCER_BROKEN))
            outcomes[row_id] = outcome
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
        except MalformedRow as error:
            return error, None
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
        counted: Counter[tuple[str, str]] = Counter()  # (event type, outcome): rows
        for row in rows:
            key: Key = (row["topic"], row["message_key"])
            row_id = row["id"]
            if row_id not in outcomes or key in failed_keys:
                # Not tried, or behind a failed row of its aggregate: sent again after it.
                failed_keys.add(key)
                continue
            outcome = outcomes[row_id]
            if outcome is None:
                done.append(row_id)
                ok_keys.add(key)
                counted[row["event_type"], "published"] += 1
                continue
            failed_keys.add(key)
            park = isinstance(outcome, (*RECORD_ERRORS, MalformedRow))
            errors.append((row_id, describe(outcome), park))
            counted[row["event_type"], "parked" if park else "failed"] += 1
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
        if self._metrics is not None:  # one increment per event type and outcome, not per row
            for (event_type, label), count in counted.items():
                self._metrics.events_published(event_type, label).inc(count)
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
