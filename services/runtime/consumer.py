"""Reliable consumers: validate, apply once, retry with backoff, dead-letter, then commit.

The offset policy
-----------------
FastStream's default Kafka subscriber commits on a timer (``ACK_FIRST``) and can lose a message
on a crash; ``ACK``/``REJECT_ON_ERROR`` commit after an error; ``NACK_ON_ERROR`` alone retries
forever with no backoff. Passerelle's policy, implemented here on top of ``NACK_ON_ERROR``:

* The subscriber reads records in batches (up to ``consumer_batch_max``), applies them (see "A
  batch is applied in one transaction"), and commits the batch's offsets only when every record
  was applied (effects + inbox row in one transaction), recognised as a duplicate, deliberately
  ignored, or written to the dead-letter topic with ``acks=all``. (One commit per batch instead
  of per record: a commit is a broker round trip that cost more than applying the record.)
* A record whose envelope or payload fails its contract goes to ``<topic>.dlq`` at once, and
  so does one that its topic's producer would not write (see "Who wrote the record").
* A handler error is retried ``consumer_max_attempts`` times with exponential backoff, then the
  record is dead-lettered with the error, and the partition keeps flowing.
* When the infrastructure itself is down (PostgreSQL unreachable, or the dead-letter write
  fails) nothing can be done for *any* record, so ``handle`` raises: FastStream seeks back to
  the record and it is delivered again. This is the only case that holds a partition, and only
  for as long as the outage lasts.
* A batch stops at its deadline, half of ``consumer_max_poll_interval_ms`` (see below).
Kill the process at any point and the record is redelivered; the inbox makes the replay harmless,
and the ``dead_letters`` table makes it harmless for the records that were dead-lettered.

Dead letters are written once per position
------------------------------------------
A batch can be delivered again after some of its records were dead-lettered: the member was
evicted, a rebalance gave the partition away, the process died before the commit. The inbox
cannot recognise those records (their transaction rolled back), so each dead letter is recorded
in ``dead_letters`` once the dead-letter topic has acknowledged it, by its position (consumer,
topic, partition, offset) and the SHA-256 of its value; each batch looks its positions up in one
query before it starts, and a record found there with the same value is counted
``dead-lettered-before`` and not written again, nor retried. (The value is compared because
offsets start again at 0 when a topic is recreated or a broker's data is reset, while the
database keeps its rows: a new record at an old position must be handled, not skipped.)
The key is the position, not the event id: an operator replays a dead letter by publishing it
again to its original topic, where it gets a new offset and is handled like any record, the
inbox included. (A crash between the write and the record, or PostgreSQL failing just then,
still leaves a second dead letter: at least once, as everything on Kafka.)

A batch is applied in one transaction
-------------------------------------
Applying a record costs a few SQL round trips and a commit, which waits for the WAL to reach the
disk: one transaction per record held a consumer at a few hundred records a second, and a
season's import, a replay or a new read model goes through tens of thousands at once. So a batch
is applied in two steps:

1. Each record is *screened* without a transaction: envelope and payload against their contract,
   producer, handler. What fails there is dead-lettered (or ignored) at once, as before: it has
   no effect to order against the others.
2. The records left are applied *together*, in one transaction: their inbox rows claimed in one
   statement (an event twice in the batch is claimed once, its second copy is a ``duplicate``),
   each handler called in the batch's order with its record's context (the flow and cause of
   what it emits), and every outbox row written with one ``executemany`` at commit. A handler
   that can share its work across records is a ``SetWise`` handler: it gets each run of
   consecutive records of its own at once (one lock per indicator instead of one per record).

If anything fails in the transaction, it is rolled back and the same records are applied *one
by one*, each in its own transaction, with the retries, classification and dead letters below:
one bad record fails alone and the others commit, at the old speed for that one batch. (No
savepoint per record: two more round trips per record on the common path, to spare work only on
the rare one.) The database unavailable is the exception: nothing would succeed one by one
either, so the batch is delivered again. Order per partition holds: a batch's records of one
partition are in offset order and applied in that order, together or alone.

A batch is bounded in time
--------------------------
A member that does not poll for ``max.poll.interval.ms`` is evicted from its group, its
partitions go to another member, which replays them from the last commit while the first one
is still handling them, and the first one's commit is refused. Up to ``consumer_batch_max``
failing records, each retried with backoff, can take longer than that; so a batch stops taking
new records at its deadline, half of the interval (the other half is for the record under way,
whose retries are bounded by ``RetryPolicy``). The records it did not reach must be delivered
again, and the ones it handled should not be. Two ways were possible:

* raise, and let FastStream's ``nack`` seek each partition back to its earliest record of the
  batch: nothing is committed, the whole batch comes again, and its handled prefix is skipped
  again by the inbox and ``dead_letters``, one transaction or lookup per record, every time;
* seek each partition back to its first record not handled (aiokafka's ``seek``, which is also
  what FastStream's ``nack`` calls) and return normally: ``NACK_ON_ERROR`` then acks, and
  aiokafka's ``commit()`` without arguments commits each assigned partition's *position*, which
  the seek has just set. The commit covers exactly the handled prefix, and the next poll
  fetches from the first record not handled.

The second is used: it commits progress, handles nothing twice, and needs no exception for a
case that is not an error. Records applied together are checked against the deadline between
handlers too: the ones not reached give their inbox rows back in the same transaction, which
commits the ones applied. A partition given away in a rebalance meanwhile cannot be sought
(``IllegalStateError``): its new owner starts from the last commit, and the batch leaves the
rest of that partition's records to it rather than race it. A batch always handles its
first record, or a batch that starts late would come back for ever. FastStream's in-memory test
broker cannot deliver a record again, so there a batch is never cut.

Lag
---
``passerelle_consumer_lag{consumer,topic,partition}`` is the partition's high-water mark (as of
aiokafka's last fetch) minus the next offset to handle: set when a batch starts, after each
record, and at each scrape, when the partitions this process no longer holds are dropped.

Which errors are the message's fault
------------------------------------
A dead letter says "this record is bad": an operator has to look at it, and the partition moves
on without it. An error of the database says nothing about the record: the next one would fail
the same way, and after a failover, a full disk or a restart the same record succeeds. So a
handler error is classified (``classify``) by its SQLSTATE, on the error or on an error it was
raised ``from``, before the retries above apply:

* ``conflict`` -- 40001 serialization failure, 40P01 deadlock: PostgreSQL rolled back one of two
  concurrent transactions and says "try again". The unit of work is retried in place, with the
  same backoff, up to ``conflict_max_attempts`` times (they usually pass on the second try);
  these tries do not use up ``max_attempts``. If the conflict persists, it is treated as
  ``unavailable``.
* ``unavailable`` -- class 08 (connection exception), class 53 (insufficient resources: disk
  full, out of memory, too many connections), class 57 (operator intervention: 57014 statement
  timeout or cancel, 57P01-57P03 shutdown, restart, not accepting connections yet), 25006
  (read-only transaction: writing to a standby after a failover), 55P03 (lock not available),
  and the client-side errors without a SQLSTATE (``OSError``, which includes timeouts, and
  ``asyncpg.InterfaceError``, except its ``DataError``: a value asyncpg refuses to send, such as
  an integer beyond int4, is the record's fault). Retrying in place would only hammer a sick database, and
  dead-lettering would throw away valid events for as long as it is sick: ``handle`` waits
  ``backoff_max_s`` and raises ``InfrastructureUnavailable`` so the record is delivered again.
* ``handler`` -- anything else (a constraint violation, a bug, a rule refusing the event): it
  would fail again on every delivery, so it is retried and then dead-lettered as above.

Who wrote the record
--------------------
Each topic of the contracts' registry has one producer and carries a known set of event types.
The broker's ACLs already keep a service from writing another service's topic; what they cannot
see is a principal writing on its *own* topic an envelope it has no business writing: a stolen
credential, or a bug, writing ``GrantAwarded`` "from funding" on the actions topic, or
``ActionStatusChanged`` "from equipment" there. Such a record would be applied as if its
producer had decided it. So once the envelope is parsed, and before anything else (the handler
lookup included), a record read from a registry topic must name the topic's producer as its
``source`` and carry one of the topic's event types; otherwise it is dead-lettered at once with
the reason ``wrong-producer`` and an error saying what was expected. The check is a dict lookup
and a comparison, so it runs for every record, even of a type this consumer has no handler for
and would only have ignored: a forgery is always worth an operator's look, and a dead letter
makes the rule visible where a silent effect (or a silent skip) would hide it. A record's topic
carries the deployment's prefix (``ServiceSettings.topic``): the consumer is built with it
(``topic_prefix``, which ``Runtime.consume`` takes from the settings) to find the registry's
topic; a topic outside the registry is not checked. (This is not authentication: a principal
allowed on a topic can still write lies its producer could have written. It bounds what a
stolen one can claim, and says so loudly.)
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import logging
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence, Set
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal, Protocol

import asyncpg
import structlog
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import IllegalStateError, MessageSizeTooLargeError
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from faststream.middlewares import AckPolicy
from passerelle_contracts import Envelope, EventData, UnknownEventType, parse_data
from passerelle_contracts.registry import DLQ_SUFFIX, TOPICS, TopicSpec
from pydantic import ValidationError

from . import dead_letter_headers as dlh
from .db import Executor
from .logs import get_logger
from .metrics import Metrics
from .uow import Context, UnitOfWork

if TYPE_CHECKING:
    from aiokafka import ConsumerRecord

    from .settings import ServiceSettings

log = get_logger(__name__)

# An event handler gets the unit of work the consumer opened (its inbox row is already in the
# transaction), the envelope and the payload parsed against its contract.
Handler = Callable[[UnitOfWork[Any], Envelope, Any], Awaitable[None]]
UnitOfWorkFactory = Callable[[Context], UnitOfWork[Any]]
# A record as the dead letters know it: where it is (topic, partition, offset) and the SHA-256 of
# its value. The position alone does not name a record: offsets start again at 0 when a topic is
# recreated or a broker's data reset, while the database keeps its dead letters.
Position = tuple[str, int, int, bytes]

# Errors that say "the database is not there", not "this message is bad" (see the module
# docstring): client-side errors without a SQLSTATE, then SQLSTATE classes and codes.
INFRASTRUCTURE_ERRORS: tuple[type[BaseException], ...] = (OSError, asyncpg.InterfaceError)
UNAVAILABLE_SQLSTATE_CLASSES = frozenset({"08", "53", "57"})
UNAVAILABLE_SQLSTATES = frozenset({"25006", "55P03"})
CONFLICT_SQLSTATES = frozenset({"40001", "40P01"})

Failure = Literal["conflict", "unavailable", "handler"]


def classify(error: BaseException) -> Failure:
    """Whose fault ``error`` is: a transient ``conflict``, the database ``unavailable``, or the
    ``handler``'s (the record's). Looks at the error and at the errors it was raised ``from``."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, asyncpg.InterfaceError) and isinstance(current, ValueError):
            return "handler"  # asyncpg refused a value before sending it (an integer beyond int4 …)
        if isinstance(current, INFRASTRUCTURE_ERRORS):
            return "unavailable"
        sqlstate = getattr(current, "sqlstate", None)
        if isinstance(sqlstate, str):
            if sqlstate in CONFLICT_SQLSTATES:
                return "conflict"
            if sqlstate in UNAVAILABLE_SQLSTATES or sqlstate[:2] in UNAVAILABLE_SQLSTATE_CLASSES:
                return "unavailable"
        current = current.__cause__
    return "handler"


class InfrastructureUnavailable(RuntimeError):
    """Raised to make FastStream seek back: the record will be delivered again."""


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 4
    backoff_initial_s: float = 0.2
    backoff_max_s: float = 5.0
    conflict_max_attempts: int = 5  # tries of a deadlock or serialization failure, in place

    def delay(self, attempt: int) -> float:
        return min(self.backoff_initial_s * 2.0 ** (attempt - 1), self.backoff_max_s)


class DeadLetterLog(Protocol):
    """The positions each consumer dead-lettered: ``PostgresDeadLetters`` (the runtime's
    ``dead_letters`` table), or ``testing.FakeStore`` in unit tests."""

    async def dead_lettered(self, consumer: str, positions: Sequence[Position]) -> set[Position]:
        """Those of ``positions`` that ``consumer`` dead-lettered."""

    async def record_dead_letter(
        self, consumer: str, position: Position, reason: str, event_id: uuid.UUID | None
    ) -> None:
        """Note a dead letter the dead-letter topic has acknowledged (again: no error; another
        record at a position already noted replaces the old one, whose offsets were reset)."""


class PostgresDeadLetters:
    """``DeadLetterLog`` on the ``dead_letters`` table (migration 0004)."""

    def __init__(self, executor: Callable[[], Executor]) -> None:
        self._executor = executor  # called at each use: the runtime's pool exists once it started

    async def dead_lettered(self, consumer: str, positions: Sequence[Position]) -> set[Position]:
        if not positions:
            return set()
        ranges: dict[tuple[str, int], tuple[int, int]] = {}  # per partition: its first and last offset asked
        for topic, partition, offset, _ in positions:
            first, last = ranges.get((topic, partition), (offset, offset))
            ranges[(topic, partition)] = (min(first, offset), max(last, offset))
        rows = await self._executor().fetch(
            """SELECT d.topic, d.partition, d."offset", d.value_sha256
               FROM dead_letters d
               JOIN unnest($2::text[], $3::integer[], $4::bigint[], $5::bigint[]) AS r (topic, partition, first, last)
                 ON d.topic = r.topic AND d.partition = r.partition AND d."offset" BETWEEN r.first AND r.last
               WHERE d.consumer = $1""",
            consumer,
            [topic for topic, _ in ranges],
            [partition for _, partition in ranges],
            [first for first, _ in ranges.values()],
            [last for _, last in ranges.values()],
        )
        return {(r["topic"], r["partition"], r["offset"], bytes(r["value_sha256"])) for r in rows} & set(positions)

    async def record_dead_letter(
        self, consumer: str, position: Position, reason: str, event_id: uuid.UUID | None
    ) -> None:
        topic, partition, offset, value_sha256 = position
        await self._executor().execute(
            """INSERT INTO dead_letters (consumer, topic, partition, "offset", value_sha256, reason, event_id)
               VALUES ($1, $2, $3, $4, $5, $6, $7)
               ON CONFLICT (consumer, topic, partition, "offset") DO UPDATE
               SET value_sha256 = EXCLUDED.value_sha256, reason = EXCLUDED.reason, event_id = EXCLUDED.event_id,
                   failed_at = now()
               WHERE dead_letters.value_sha256 <> EXCLUDED.value_sha256""",
            consumer,
            topic,
            partition,
            offset,
            value_sha256,
            reason,
            event_id,
        )


class Partitions(Protocol):
    """What a batch uses of aiokafka's ``AIOKafkaConsumer``."""

    def assignment(self) -> Set[TopicPartition]: ...

    def highwater(self, partition: TopicPartition) -> int | None: ...

    def seek(self, partition: TopicPartition, offset: int) -> None: ...


class Producers:
    """Who may write each topic of the registry, in a deployment with ``topic_prefix``: the check
    every consumer makes of each record (see "Who wrote the record"), and a rebuild of read models
    from the topics makes too."""

    def __init__(self, topic_prefix: str = "") -> None:
        # The registry's topics by their name in this deployment: who writes each, and what.
        self.producers: dict[str, TopicSpec] = {topic_prefix + spec.name: spec for spec in TOPICS}
        # Each event type's internal topic, by registry name.
        self._carriers = {t: spec.name for spec in TOPICS if spec.audience == "internal" for t in spec.event_types}

    def wrong(self, topic: str, envelope: Envelope) -> str | None:
        """Why ``envelope``, read from ``topic``, is not one its topic's producer writes; None if
        it is, or if ``topic`` is not in the registry."""
        spec = self.producers.get(topic)
        if spec is None:
            return None
        wrong = []
        if envelope.source != spec.producer:
            wrong.append(f"source {envelope.source!r} is not the producer of {spec.name} ({spec.producer!r})")
        # A type this registry gives to another topic is a forgery; a type it does not know at all
        # may be a newer producer's, met during a rolling upgrade: not a forgery (ignored, as
        # before, by a consumer without a handler for it).
        elsewhere = self._carriers.get(envelope.event_type, spec.name)
        if envelope.event_type not in spec.event_types and elsewhere != spec.name:
            wrong.append(f"event type {envelope.event_type} is not carried by {spec.name} (it is {elsewhere}'s)")
        return "; ".join(wrong) or None


class ReliableConsumer:
    """One consumer group: a name, the topics it reads and a handler per event type."""

    def __init__(
        self,
        name: str,
        handlers: Mapping[str, Handler],
        *,
        unit_of_work: UnitOfWorkFactory,
        publish: Callable[..., Awaitable[Any]],
        retry: RetryPolicy,
        metrics: Metrics | None = None,
        dead_letters: DeadLetterLog | None = None,
        topic_prefix: str = "",
    ) -> None:
        """Without ``dead_letters`` (FastStream's in-memory broker gives every record offset 0)
        nothing is recorded or looked up: a batch delivered again is dead-lettered again.

        ``topic_prefix``: the deployment's (``ServiceSettings.topic_prefix``), which the topics
        of the records start with; the producer of each is checked (see "Who wrote the record").
        """
        self.name = name
        self._producers = Producers(topic_prefix)
        self.handlers = dict(handlers)
        self._unit_of_work = unit_of_work
        self._publish = publish
        self._retry = retry
        self._metrics = metrics
        self._dead_letters = dead_letters
        self._kafka: Partitions | None = None  # the consumer of the last batch, for the lag at scrape
        self._next: dict[TopicPartition, int] = {}  # per partition: the next offset to handle
        if metrics is not None:
            metrics.on_scrape(self.refresh_lag)

    async def handle_batch(
        self, records: Sequence[ConsumerRecord], *, kafka: Partitions | None = None, deadline: float | None = None
    ) -> list[str]:
        """Handle a batch's records in order until ``deadline`` (``time.monotonic()``); return the
        outcomes of those handled. The records to apply are applied together in one transaction,
        or one by one if that fails (see "A batch is applied in one transaction"). Past the
        deadline, each partition is sought back to its first record not handled (see "A batch is
        bounded in time"); raises only as ``handle`` does, or when the dead letters cannot be
        looked up."""
        started = time.perf_counter()
        if kafka is not None:
            self._kafka = kafka
        for record in reversed(records):  # each partition starts at its first record of the batch
            self._next[TopicPartition(record.topic, record.partition)] = record.offset
        self._update_lag(self._next)
        done = await self._dead_lettered_before(records)
        finished: dict[int, _Finished] = {}  # by index in the batch
        items: list[_Item] = []  # the records to apply, in order
        given_away: set[TopicPartition] = set()
        stop = len(records)  # the first record not handled
        for index, record in enumerate(records):
            if index and kafka is not None and deadline is not None and time.monotonic() >= deadline:
                stop = index
                break
            tp = TopicPartition(record.topic, record.partition)
            if kafka is not None and (tp in given_away or tp not in kafka.assignment()):
                # Revoked in a rebalance while this batch ran: its new owner starts from the last
                # commit, so handling the rest here would only race it (and nothing of this
                # partition is committed by this member any more).
                if tp not in given_away:
                    given_away.add(tp)
                    log.info("partition given away mid-batch, its records left to its new owner", partition=str(tp))
                continue
            screened = await self._screen(index, record, dead_lettered_before=_position(record) in done)
            if isinstance(screened, _Item):
                items.append(screened)
            else:
                finished[index] = screened
        stop = await self._apply_all(items, finished, kafka, deadline, stop)
        if stop < len(records) and kafka is not None:
            self._cut_short(records[stop:], kafka, handled=stop)
        outcomes: list[str] = []
        moved: set[TopicPartition] = set()
        for index in sorted(i for i in finished if i < stop):  # the rest comes again: not counted yet
            record, result = records[index], finished[index]
            self._finish(record, result)
            outcomes.append(result.outcome)
            tp = TopicPartition(record.topic, record.partition)
            self._next[tp] = record.offset + 1
            moved.add(tp)
        self._update_lag(moved)
        if outcomes:
            log.info(
                "batch handled",
                consumer=self.name,
                records=len(outcomes),
                **{o.replace("-", "_"): n for o, n in Counter(outcomes).items()},
                together=len(items) > 1 and all(finished[i.index].together for i in items if i.index in finished),
                duration_ms=round((time.perf_counter() - started) * 1000, 2),
            )
        return outcomes

    async def handle(self, record: ConsumerRecord, *, dead_lettered_before: bool = False) -> str:
        """Apply one record in a transaction of its own; return the outcome. Raises only when the
        record must be redelivered.

        ``dead_lettered_before``: the batch found its position in the dead letters; it is counted
        and skipped. Every line logged meanwhile carries the record's position and, once parsed,
        its event ids; one line per record closes with the outcome and the duration."""
        screened = await self._screen(0, record, dead_lettered_before=dead_lettered_before)
        result = screened if isinstance(screened, _Finished) else await self._apply_alone(screened)
        self._finish(record, result)
        return result.outcome

    def not_from_producer(self, topic: str, envelope: Envelope) -> str | None:
        """Why ``envelope``, read from ``topic``, is not one its topic's producer writes (see
        "Who wrote the record"); None if it is, or if ``topic`` is not in the registry."""
        return self._producers.wrong(topic, envelope)

    async def _screen(self, index: int, record: ConsumerRecord, *, dead_lettered_before: bool) -> _Item | _Finished:
        """What can be decided of a record without a transaction: its envelope and payload against
        their contract, its producer, its handler. Either the record's outcome (dead-lettered,
        dead-lettered before, ignored) or the item to apply."""
        started = time.perf_counter()

        def finished(outcome: str, event_type: str) -> _Finished:
            return _Finished(outcome, event_type, seconds=time.perf_counter() - started)

        # Nothing is bound to the log context on the way through (it costs more than the check
        # itself); a record that is dead-lettered is, before its lines are written.
        with self._redelivered_if_raised(record):
            try:
                envelope = Envelope.model_validate_json(record.value)
            except ValidationError as error:
                if dead_lettered_before:
                    return finished("dead-lettered-before", "unreadable")
                with _bound(self.name, record):
                    outcome = await self._dead_letter(record, dlh.INVALID_ENVELOPE, _describe(error), 0, None)
                return finished(outcome, "unreadable")
            kind = envelope.event_type
            if dead_lettered_before:
                return finished("dead-lettered-before", kind)
            # First, for every record, even of a type without a handler: a forgery is worth a look.
            wrong = self.not_from_producer(record.topic, envelope)
            if wrong is not None:
                with _bound(self.name, record) as bind:
                    bind(envelope)
                    outcome = await self._dead_letter(record, dlh.WRONG_PRODUCER, wrong, 0, envelope.event_id)
                return finished(outcome, kind)
            handler = self.handlers.get(kind)
            if handler is None:
                return finished("ignored", kind)  # a topic carries many event types; this consumer needs few
            try:
                data = parse_data(envelope)
            except (ValidationError, UnknownEventType) as error:
                with _bound(self.name, record) as bind:
                    bind(envelope)
                    outcome = await self._dead_letter(record, dlh.INVALID_DATA, _describe(error), 0, envelope.event_id)
                return finished(outcome, kind)
            return _Item(index, record, envelope, data, handler, time.perf_counter() - started)

    @contextlib.contextmanager
    def _redelivered_if_raised(self, record: ConsumerRecord) -> Iterator[None]:
        """Count and log a record that will be delivered again (``InfrastructureUnavailable``)."""
        try:
            yield
        except InfrastructureUnavailable:
            event_type = _header(record, "event_type", "unknown")
            log.warning("message handled", outcome="redeliver", event_type=event_type)
            if self._metrics is not None:  # what the alert on redeliveries watches
                self._metrics.consumed(self.name, event_type, "redeliver").inc()
            raise

    async def _apply_all(
        self,
        items: Sequence[_Item],
        finished: dict[int, _Finished],
        kafka: Partitions | None,
        deadline: float | None,
        stop: int,
    ) -> int:
        """Apply ``items`` together, else one by one, until the deadline; note each outcome in
        ``finished``; return the first record not handled (``stop``, or earlier at the deadline)."""
        if not (kafka is not None and deadline is not None):
            deadline = None  # never cut without a consumer to seek with (see "A batch is bounded in time")
        if len(items) > 1:
            applied, cut = await self._apply_together(items, finished, kafka, deadline)
            if applied:
                return stop if cut is None else min(cut, stop)
        for item in items:
            if item.index and deadline is not None and time.monotonic() >= deadline:
                return item.index
            if not _held(kafka, item.record):
                continue  # given away meanwhile: left to its new owner
            finished[item.index] = await self._apply_alone(item)
        return stop

    async def _apply_together(
        self, items: Sequence[_Item], finished: dict[int, _Finished], kafka: Partitions | None, deadline: float | None
    ) -> tuple[bool, int | None]:
        """Apply ``items`` in one transaction: their inbox rows claimed in one statement, each run of
        consecutive records of one ``SetWise`` handler given to it at once, the others one by one,
        each with the context of its own record. Past ``deadline`` the records not reached are
        released from the inbox and left out (the rest of the batch is delivered again). The records
        of a partition given away meanwhile are released and left to its new owner.

        Returns (True, the index of the first record the deadline left out, or None when it left
        none); (False, None) if anything failed: the transaction is rolled back and the records are
        to be applied one by one. Raises ``InfrastructureUnavailable`` as a record alone would."""
        started = time.perf_counter()
        outcomes: dict[int, str] = {}
        cut: int | None = None
        try:
            async with self._unit_of_work(Context.caused_by(items[0].envelope)) as uow:
                claimed = await uow.claim_inbox_many(
                    self.name, [(i.envelope, i.record.topic, i.record.partition, i.record.offset) for i in items]
                )
                fresh: list[_Item] = []
                for item in items:
                    if item.envelope.event_id in claimed:
                        claimed.discard(item.envelope.event_id)  # a second copy in the batch is a duplicate
                        fresh.append(item)
                    else:
                        outcomes[item.index] = "duplicate"
                released: list[uuid.UUID] = []
                for position, item in enumerate(fresh):
                    if item.index in outcomes:
                        continue  # applied with its run
                    if position and deadline is not None and time.monotonic() >= deadline:
                        cut = item.index
                        released += [i.envelope.event_id for i in fresh[position:] if i.index not in outcomes]
                        break
                    if not _held(kafka, item.record):
                        released.append(item.envelope.event_id)  # given away meanwhile: its new owner applies it
                        outcomes[item.index] = "given-away"
                        continue
                    handler = item.handler
                    if isinstance(handler, SetWise):
                        run = _run_of(fresh, position)
                        for i in run:
                            if not _held(kafka, i.record):
                                released.append(i.envelope.event_id)
                                outcomes[i.index] = "given-away"
                        run = [i for i in run if i.index not in outcomes]
                        uow.context = Context.caused_by(item.envelope)
                        with _bound(self.name, item.record) as bind:
                            bind(item.envelope)
                            await handler.many(uow, [(i.envelope, i.data) for i in run])
                        outcomes.update((i.index, "processed") for i in run)
                    else:
                        uow.context = Context.caused_by(item.envelope)  # the flow of each record
                        with _bound(self.name, item.record) as bind:
                            bind(item.envelope)
                            await handler(uow, item.envelope, item.data)
                        outcomes[item.index] = "processed"
                if released:
                    await uow.release_inbox_many(self.name, released)
        except Exception as error:  # classified: the records are applied alone, or redelivered
            kind = classify(error)
            if kind == "unavailable":
                log.warning("database unavailable, batch will be redelivered", consumer=self.name, error=repr(error))
                if self._metrics is not None:  # what the alert on redeliveries watches
                    for item in items:
                        self._metrics.consumed(self.name, item.envelope.event_type, "redeliver").inc()
                await asyncio.sleep(self._retry.backoff_max_s)
                raise InfrastructureUnavailable(repr(error)) from error
            log.warning(
                "batch not applied together, applying its records one by one",
                consumer=self.name,
                records=len(items),
                failure=kind,
                error=repr(error),
            )
            if self._metrics is not None:
                self._metrics.batches_applied_alone(self.name).inc()
            return False, None
        done = [item for item in items if (cut is None or item.index < cut) and outcomes[item.index] != "given-away"]
        share = (time.perf_counter() - started) / max(len(done), 1)  # the transaction's time, per record
        for item in done:
            finished[item.index] = _Finished(
                outcomes[item.index],
                item.envelope.event_type,
                attempts=1,
                seconds=item.screened_s + share,
                together=True,
            )
        return True, cut

    async def _apply_alone(self, item: _Item) -> _Finished:
        started = time.perf_counter()
        with _bound(self.name, item.record) as bind, self._redelivered_if_raised(item.record):
            bind(item.envelope)
            outcome, attempts = await self._retrying(item)
        seconds = item.screened_s + time.perf_counter() - started
        return _Finished(outcome, item.envelope.event_type, attempts=attempts, seconds=seconds)

    def _finish(self, record: ConsumerRecord, result: _Finished) -> None:
        """One line per record (DEBUG; WARNING when it was dead-lettered) and its metrics."""
        if result.outcome == "dead-lettered" or log.is_enabled_for(logging.DEBUG):
            with _bound(self.name, record):
                log.log(
                    logging.WARNING if result.outcome == "dead-lettered" else logging.DEBUG,
                    "message handled",
                    event_type=result.event_type,
                    outcome=result.outcome,
                    attempts=result.attempts,
                    duration_ms=round(result.seconds * 1000, 2),
                )
        if self._metrics is not None:
            self._metrics.consumed(self.name, result.event_type, result.outcome).inc()
            self._metrics.handler_seconds(self.name, result.event_type).observe(result.seconds)

    async def _retrying(self, item: _Item) -> tuple[str, int]:
        record, envelope, data, handler = item.record, item.envelope, item.data, item.handler
        attempts = failures = conflicts = 0
        while True:
            attempts += 1
            try:
                return await self._apply(handler, envelope, data, record), attempts
            except Exception as error:  # events fail alone, the database never: see the module docstring
                kind = classify(error)
                if kind == "conflict":
                    conflicts += 1
                    if conflicts < self._retry.conflict_max_attempts:
                        delay = self._retry.delay(conflicts)
                        log.warning(
                            "transaction conflict, retrying", error=repr(error), attempt=attempts, retry_in_s=delay
                        )
                        await asyncio.sleep(delay)
                        continue
                    kind = "unavailable"  # it keeps conflicting: hold the record rather than lose it
                if kind == "unavailable":
                    log.warning("database unavailable, record will be redelivered", error=repr(error))
                    await asyncio.sleep(self._retry.backoff_max_s)
                    raise InfrastructureUnavailable(repr(error)) from error
                failures += 1
                if failures >= self._retry.max_attempts:
                    dead = await self._dead_letter(record, dlh.HANDLER_FAILED, repr(error), attempts, envelope.event_id)
                    return dead, attempts
                delay = self._retry.delay(failures)
                log.warning("handler failed, retrying", error=repr(error), attempt=attempts, retry_in_s=delay)
                await asyncio.sleep(delay)

    async def _apply(self, handler: Handler, envelope: Envelope, data: EventData, record: ConsumerRecord) -> str:
        # Whatever the handler emits is caused by this event and belongs to its flow.
        async with self._unit_of_work(Context.caused_by(envelope)) as uow:
            if not await uow.claim_inbox(self.name, envelope, record.topic, record.partition, record.offset):
                return "duplicate"
            await handler(uow, envelope, data)
        return "processed"

    async def _dead_letter(
        self, record: ConsumerRecord, reason: str, error: str, attempts: int, event_id: uuid.UUID | None
    ) -> str:
        """Write the record to ``<topic>.dlq`` with the original headers (tracing, event ids) and
        the reason beside them; ``acks=all`` before the offset moves on; then note its position
        in the dead letters, so that a batch delivered again does not write it twice.

        A dead letter too large for its topic is written without its value: the record itself
        stays in its own topic (kept for ever), at the position the headers name. Holding the
        partition instead would hold it for ever, since the record will never get smaller."""
        original = {k: bytes(v).decode("utf-8", "replace") for k, v in (record.headers or ())}
        headers = original | {
            dlh.REASON: reason,
            dlh.ERROR: error[:4000],
            dlh.CONSUMER: self.name,
            dlh.ATTEMPTS: str(attempts),
            dlh.ORIGINAL_TOPIC: record.topic,
            dlh.ORIGINAL_PARTITION: str(record.partition),
            dlh.ORIGINAL_OFFSET: str(record.offset),
            dlh.FAILED_AT: datetime.now(UTC).isoformat(),
        }
        topic = record.topic + DLQ_SUFFIX
        try:
            try:
                await self._publish(record.value, topic=topic, key=record.key, headers=headers)
            except MessageSizeTooLargeError:
                size = len(record.value or b"")
                headers[dlh.VALUE_DROPPED] = f"{size} bytes, too large for the dead-letter topic"
                await self._publish(b"", topic=topic, key=record.key, headers=headers)
        except Exception as publish_error:
            raise InfrastructureUnavailable(f"dead-letter write failed: {publish_error!r}") from publish_error
        log.error("message dead-lettered", reason=reason, error=error[:500], attempts=attempts)
        if self._metrics is not None:
            self._metrics.dead_letters(record.topic, reason).inc()
        if self._dead_letters is not None:
            try:
                await self._dead_letters.record_dead_letter(self.name, _position(record), reason, event_id)
            except Exception as record_error:  # the dead letter is written: only a second copy is at stake
                log.warning("dead letter not recorded, record will be redelivered", error=repr(record_error))
                await asyncio.sleep(self._retry.backoff_max_s)
                raise InfrastructureUnavailable(f"dead letter not recorded: {record_error!r}") from record_error
        return "dead-lettered"

    async def _dead_lettered_before(self, records: Sequence[ConsumerRecord]) -> set[Position]:
        if self._dead_letters is None or not records:
            return set()
        try:
            return await self._dead_letters.dead_lettered(self.name, [_position(r) for r in records])
        except Exception as error:  # the database: nothing in this batch can be handled either
            log.warning("dead letters not looked up, batch will be redelivered", consumer=self.name, error=repr(error))
            if self._metrics is not None:  # what the alert on redeliveries watches
                for record in records:
                    self._metrics.consumed(self.name, _header(record, "event_type", "unknown"), "redeliver").inc()
            await asyncio.sleep(self._retry.backoff_max_s)
            raise InfrastructureUnavailable(repr(error)) from error

    def _cut_short(self, rest: Sequence[ConsumerRecord], kafka: Partitions, handled: int) -> None:
        first: dict[TopicPartition, int] = {}
        for record in rest:  # in order within a partition: the first seen is the earliest
            first.setdefault(TopicPartition(record.topic, record.partition), record.offset)
        for tp, offset in first.items():
            with contextlib.suppress(IllegalStateError):  # given away in a rebalance: its new owner resumes
                kafka.seek(tp, offset)
        log.warning(
            "batch deadline reached, the rest will be delivered again",
            consumer=self.name,
            handled=handled,
            left=len(rest),
            resume_at={f"{tp.topic}[{tp.partition}]": offset for tp, offset in first.items()},
        )
        if self._metrics is not None:
            self._metrics.batches_cut_short(self.name).inc()

    def _update_lag(self, partitions: Iterable[TopicPartition]) -> None:
        kafka = self._kafka
        if self._metrics is None or kafka is None:
            return
        held = kafka.assignment()
        for tp in partitions:
            end = kafka.highwater(tp) if tp in held else None
            if end is not None:  # known once a fetch of the partition has come back
                lag = max(end - self._next[tp], 0)
                self._metrics.consumer_lag.labels(self.name, tp.topic, str(tp.partition)).set(lag)

    async def refresh_lag(self) -> None:
        """At scrape: the lag against the latest high-water marks; partitions this process no
        longer holds are dropped (their new owner reports them)."""
        kafka = self._kafka
        if self._metrics is None or kafka is None:
            return
        held = kafka.assignment()
        for tp in [tp for tp in self._next if tp not in held]:
            del self._next[tp]
            with contextlib.suppress(KeyError):  # never reported: no fetch had come back
                self._metrics.consumer_lag.remove(self.name, tp.topic, str(tp.partition))
        self._update_lag(self._next)


_CONTEXT_KEYS = ("consumer", "topic", "partition", "offset", "event_id", "event_type", "correlation_id", "causation_id")


@dataclass(frozen=True)
class SetWise:
    """A handler that applies consecutive records of a batch at once (``many``), in the batch's
    transaction: for handlers whose work per record is mostly round trips that a set of records
    can share (one lock per indicator instead of one per record, rows written with one
    ``executemany``). Called as a plain handler it applies one record, so a record applied alone
    (a batch fallen back, a retry) runs the same code.

    ``many`` gets the unit of work and the run's (envelope, payload) pairs in order; whatever it
    emits for a record must be emitted with ``context=Context.caused_by(envelope)`` of that record
    (the unit of work's own context is the run's first record's)."""

    many: Callable[[UnitOfWork[Any], Sequence[tuple[Envelope, Any]]], Awaitable[None]]

    async def __call__(self, uow: UnitOfWork[Any], envelope: Envelope, data: Any) -> None:
        await self.many(uow, [(envelope, data)])


@dataclass(frozen=True)
class _Item:
    """A record of a batch that passed its checks and has a handler: to apply."""

    index: int  # in the batch
    record: ConsumerRecord
    envelope: Envelope
    data: Any
    handler: Handler
    screened_s: float  # the time its checks took


@dataclass(frozen=True)
class _Finished:
    """A record's outcome, and what its line and metrics say of it."""

    outcome: str
    event_type: str
    attempts: int = 0
    seconds: float = 0.0
    together: bool = False  # applied in the batch's transaction


def _run_of(items: Sequence[_Item], start: int) -> list[_Item]:
    """``items[start]`` and the items right after it with the same handler."""
    handler = items[start].handler
    return list(itertools.takewhile(lambda i: i.handler is handler, items[start:]))


def _held(kafka: Partitions | None, record: ConsumerRecord) -> bool:
    """Whether this member still holds the record's partition (always, in memory)."""
    return kafka is None or TopicPartition(record.topic, record.partition) in kafka.assignment()


@contextlib.contextmanager
def _bound(consumer: str, record: ConsumerRecord) -> Iterator[Callable[[Envelope], None]]:
    """Every line logged inside carries the record's position, and its event ids once ``bind``
    is given its envelope."""

    def bind(envelope: Envelope) -> None:
        structlog.contextvars.bind_contextvars(
            event_id=str(envelope.event_id),
            event_type=envelope.event_type,
            correlation_id=str(envelope.correlation_id),
            causation_id=str(envelope.causation_id) if envelope.causation_id else None,
        )

    structlog.contextvars.bind_contextvars(
        consumer=consumer, topic=record.topic, partition=record.partition, offset=record.offset
    )
    try:
        yield bind
    finally:
        structlog.contextvars.unbind_contextvars(*_CONTEXT_KEYS)


def _position(record: ConsumerRecord) -> Position:
    return (record.topic, record.partition, record.offset, hashlib.sha256(record.value or b"").digest())


def _header(record: ConsumerRecord, name: str, default: str) -> str:
    for key, value in record.headers or ():
        if key == name:
            return bytes(value).decode("utf-8", "replace")
    return default


def _describe(error: Exception) -> str:
    if not isinstance(error, ValidationError):
        return str(error)
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '<root>'}: {e['msg']}" for e in error.errors())


def subscribe(
    broker: KafkaBroker,
    settings: ServiceSettings,
    consumer: ReliableConsumer,
    topics: Iterable[str],
) -> None:
    """Register a consumer on the broker with Passerelle's offset policy."""
    names = [settings.topic(t) for t in topics]
    batch_s = settings.consumer_max_poll_interval_ms / 1000 / 2  # see "A batch is bounded in time"

    async def on_batch(message: KafkaMessage) -> None:
        # Records of one partition arrive in order; the batch is applied in one transaction (or
        # one per record, see "A batch is applied in one transaction"), and its offsets are
        # committed once, after the last record handled (the ack that follows a normal return). A
        # crash or a redelivery replays the batch, and the inbox and the dead letters skip what
        # was already done.
        deadline = time.monotonic() + batch_s
        raw = message.raw_message
        batch = raw if isinstance(raw, (tuple, list)) else (raw,)  # the in-memory test broker gives a list
        kafka = message.consumer if isinstance(message.consumer, AIOKafkaConsumer) else None  # not in memory
        await consumer.handle_batch(batch, kafka=kafka, deadline=deadline)

    on_batch.__name__ = f"on_{consumer.name.replace('-', '_')}"
    broker.subscriber(
        *names,
        group_id=settings.group(consumer.name),
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.NACK_ON_ERROR,
        batch=True,
        max_records=settings.consumer_batch_max,
        batch_timeout_ms=settings.consumer_batch_wait_ms,
        max_poll_interval_ms=settings.consumer_max_poll_interval_ms,
        title=f"{settings.service_name}.{consumer.name}",
        description=f"Handles {', '.join(sorted(consumer.handlers))}",
    )(on_batch)
