"""Drop the read models and build them again from the topics, which keep every event for ever.

``python -m services.dashboard rebuild [--into DATABASE_URL] [--batch N]``

Without ``--into``, the dashboard's own database: stop the dashboard first (its consumer would
write into the tables being rebuilt). With ``--into``, another database (created beforehand),
e.g. to build a new version's read models beside the live ones and compare them
(``GET /api/plan`` etc. on both) before switching.

The rebuild reads every partition of the projector's topics from its first record up to the end
offsets taken when it starts, without a consumer group (nothing is committed, no group is
moved), and applies the records with the live consumer's projections and checks: a record its topic's producer did not write, or whose data is invalid, or whose projection
fails, is skipped as the live consumer dead-letters it. Everything happens in one transaction,
``--batch`` records at a time under a savepoint, each batch's inbox rows, feed rows and
projections written together (``projector.project_new``; a batch that fails is applied again
record by record, to skip only the failing records): a rebuild cut short (the broker gone, the process
killed) leaves the read models as they were; a topic whose partitions the broker does not tell is
refused before anything is touched. Each applied event is claimed in the inbox under the
consumer's name, as the consumer does: when the dashboard starts again, its group resumes from
its committed offsets, finds the events the rebuild applied in the inbox and applies only those
that came after. The sessions and API keys are kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from passerelle_contracts import Envelope
from passerelle_contracts.registry import UnknownEventType, parse_data
from pydantic import ValidationError

from services.runtime import db, inbox
from services.runtime.consumer import Producers
from services.runtime.db import Executor
from services.runtime.logs import get_logger

from .projector import CONSUMER, MIGRATIONS, TABLES, TOPICS, project, project_new
from .settings import DashboardSettings

FETCH_TIMEOUT_MS = 1000
log = get_logger(__name__)


@dataclass
class Rebuilt:
    applied: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        return self.applied / self.seconds if self.seconds > 0 else 0.0

    def summary(self) -> str:
        skipped = ", ".join(f"{n} {why}" for why, n in sorted(self.skipped.items())) or "none"
        return (
            f"rebuilt the read models from {self.applied:,} events in {self.seconds:.1f} s "
            f"({self.rate:,.0f} events/s); skipped: {skipped}"
        )


async def clear(conn: Any) -> None:
    """Empty every read model (``projector.TABLES``: the sessions and the keys stay) and forget
    which events the consumer applied."""
    await conn.execute(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY")
    await conn.execute("DELETE FROM inbox WHERE consumer = $1", CONSUMER)


async def rebuild(settings: DashboardSettings, *, into: str | None = None, batch: int = 1000) -> Rebuilt:
    pool = await db.create_pool(into or settings.database_url, min_size=1, max_size=2)
    checker = Producers(settings.topic_prefix)
    result = Rebuilt()
    consumer = AIOKafkaConsumer(
        **settings.kafka.aiokafka(),
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=batch,
    )
    try:
        await db.migrate(pool, {"runtime": db.RUNTIME_MIGRATIONS, settings.service_name: MIGRATIONS})
        await consumer.start()
        partitions = await _partitions(consumer, settings)
        consumer.assign(partitions)
        ends = await consumer.end_offsets(partitions)
        await consumer.seek_to_beginning(*partitions)
        started = time.perf_counter()
        # One transaction for the whole rebuild: the tables are emptied and filled again together,
        # so that a rebuild that fails half-way (the broker gone, the process killed) leaves the
        # read models as they were, never half-built.
        async with pool.acquire() as conn, conn.transaction():
            await clear(conn)
            indexes = await _drop_secondary_indexes(conn)
            # The next batch is fetched and checked while the database writes the last one.
            batches: asyncio.Queue[list[tuple[Any, Screened]] | BaseException | None] = asyncio.Queue(maxsize=2)
            reader = asyncio.create_task(_read(consumer, checker, ends, batch, batches))
            try:
                while (screened := await batches.get()) is not None:
                    if isinstance(screened, BaseException):
                        raise screened  # the reader failed: the transaction rolls back
                    await _apply_batch(conn, checker, screened, result)
                await reader
            finally:
                reader.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await reader
            for definition in indexes:
                await conn.execute(definition)
        result.seconds = time.perf_counter() - started
    finally:
        await consumer.stop()
        await pool.close()
    return result


# A record and what its check found: its envelope and payload, or the reason it is skipped.
Screened = tuple[Envelope, Any] | str


async def _read(
    consumer: AIOKafkaConsumer,
    checker: Producers,
    ends: dict[TopicPartition, int],
    batch: int,
    out: asyncio.Queue[list[tuple[Any, Screened]] | BaseException | None],
) -> None:
    """Fetch every partition up to its end offset, check each record (``_screen``) and hand the
    batches over; None when all is read, or the error that stopped the reading (the rebuild
    raises it, and its transaction rolls back, rather than wait for ever)."""
    try:
        left = {tp for tp, end in ends.items() if end > 0}
        while left:
            fetched = await consumer.getmany(*left, timeout_ms=FETCH_TIMEOUT_MS, max_records=batch)
            records = [r for tp, rs in fetched.items() for r in rs if r.offset < ends[tp]]
            if records:
                await out.put([(record, _screen(checker, record)) for record in records])
            for tp in list(left):
                if await consumer.position(tp) >= ends[tp]:
                    left.discard(tp)
    except Exception as error:  # noqa: BLE001 - handed to the rebuild, which raises it
        await out.put(error)
        return
    await out.put(None)


async def _drop_secondary_indexes(conn: Any) -> list[str]:
    """Drop the read models' secondary indexes, and return how to create them again. Filling a
    table and then indexing it is several times cheaper than keeping its indexes up to date row
    by row (the feed's GIN index on organisations most of all). The primary keys and unique
    indexes stay: the projections' ``ON CONFLICT`` needs them. All in the rebuild's transaction,
    which holds the tables already (``TRUNCATE``): nobody reads them meanwhile."""
    rows = await conn.fetch(
        """SELECT i.indexrelid::regclass::text AS name, pg_get_indexdef(i.indexrelid) AS definition
           FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid
           WHERE t.relname = ANY($1::text[]) AND pg_table_is_visible(t.oid)
             AND NOT i.indisprimary AND NOT i.indisunique AND NOT i.indisexclusion
             AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
           ORDER BY 1""",
        list(TABLES),
    )
    for row in rows:
        await conn.execute(f"DROP INDEX {row['name']}")
    if rows:
        log.info(
            "rebuild: secondary indexes dropped for the load, made again after it", indexes=[r["name"] for r in rows]
        )
    return [row["definition"] for row in rows]


class UnknownPartitions(RuntimeError):
    """The broker does not tell a topic's partitions: nothing is rebuilt (the read models stay)."""


async def _partitions(consumer: AIOKafkaConsumer, settings: DashboardSettings) -> list[TopicPartition]:
    # aiokafka knows a topic's partitions once its client holds the topic's metadata, and has no
    # public call to ask for it before assign(): ask its client, as the gateway's streams do.
    names = [settings.topic(topic) for topic in TOPICS]
    await consumer._client.set_topics(names)
    found = {name: consumer.partitions_for_topic(name) for name in names}
    if missing := sorted(name for name, partitions in found.items() if not partitions):
        raise UnknownPartitions(f"the broker does not know the partitions of {', '.join(missing)}: nothing rebuilt")
    return [TopicPartition(name, p) for name, partitions in found.items() for p in sorted(partitions or ())]


async def _apply_batch(conn: Any, checker: Producers, records: list[tuple[Any, Screened]], result: Rebuilt) -> None:
    """A batch under a savepoint, applied together (``_apply_together``); if that fails, the batch
    again record by record, each under its own savepoint, the failing ones skipped as the live
    consumer dead-letters them."""
    try:
        async with conn.transaction():
            attempt = Rebuilt()
            await _apply_together(conn, records, attempt)
    except Exception as error:  # noqa: BLE001 - one record's failure; found and counted below
        log.warning("rebuild: a batch failed together; its records are applied one by one", error=repr(error))
        for record, screened in records:
            try:
                async with conn.transaction():
                    await _apply(conn, record, screened, result)
            except Exception as error:  # noqa: BLE001 - counted, as a dead letter would be
                result.skipped["handler-failed"] += 1
                log.warning("rebuild: a projection failed; the event is skipped", error=repr(error))
        return
    result.applied += attempt.applied
    result.skipped.update(attempt.skipped)


async def _apply_together(conn: Any, records: list[tuple[Any, Screened]], result: Rebuilt) -> None:
    """The batch's inbox rows claimed with one statement and the new events projected together
    (``projector.project_new``): a few round trips per batch instead of several per event."""
    items: list[tuple[Any, tuple[Envelope, Any]]] = []
    for record, screened in records:
        if isinstance(screened, str):
            result.skipped[screened] += 1
        else:
            items.append((record, screened))
    claims = [(e.event_id, e.event_type, r.topic, r.partition, r.offset) for r, (e, _) in items]
    claimed = await inbox.claim_many(conn, CONSUMER, claims)
    new: list[tuple[Envelope, Any, str]] = []
    for _, (envelope, data) in items:
        if envelope.event_id in claimed:
            claimed.discard(envelope.event_id)  # a second copy in the batch is a duplicate
            new.append((envelope, data, data.topic))
        else:
            result.skipped["duplicate"] += 1
    await project_new(conn, new)
    result.applied += len(new)


def _screen(checker: Producers, record: Any) -> Screened:
    """The record's envelope and payload, or why the live consumer would dead-letter it."""
    try:
        envelope = Envelope.model_validate_json(record.value)
    except ValidationError:
        return "invalid-envelope"
    if checker.wrong(record.topic, envelope) is not None:
        return "wrong-producer"
    try:
        data = parse_data(envelope)
    except (ValidationError, UnknownEventType):
        return "invalid-data"
    return envelope, data


async def _apply(conn: Executor, record: Any, screened: Screened, result: Rebuilt) -> None:
    if isinstance(screened, str):
        result.skipped[screened] += 1
        return
    envelope, data = screened
    if not await inbox.claim(
        conn, CONSUMER, envelope.event_id, envelope.event_type, record.topic, record.partition, record.offset
    ):
        result.skipped["duplicate"] += 1
        return
    await project(conn, envelope, data, data.topic, live=False)
    result.applied += 1
