"""Reliable consumers: validate, apply once, retry with backoff, dead-letter, then commit.

The offset policy
-----------------
FastStream's default Kafka subscriber commits on a timer (``ACK_FIRST``) and can lose a message
on a crash; ``ACK``/``REJECT_ON_ERROR`` commit after an error; ``NACK_ON_ERROR`` alone retries
forever with no backoff. Passerelle's policy, implemented here on top of ``NACK_ON_ERROR``:

* The subscriber reads records in batches (up to ``consumer_batch_max``), applies them one by
  one, and commits the batch's offsets only when every record was applied (effects + inbox row
  in one transaction), recognised as a duplicate, deliberately ignored, or written to the
  dead-letter topic with ``acks=all``. (One commit per batch instead of per record: a commit is
  a broker round trip that cost more than applying the record.)
* A record whose envelope or payload fails its contract goes to ``<topic>.dlq`` at once.
* A handler error is retried ``consumer_max_attempts`` times with exponential backoff, then the
  record is dead-lettered with the error, and the partition keeps flowing.
* When the infrastructure itself is down (PostgreSQL unreachable, or the dead-letter write
  fails) nothing can be done for *any* record, so ``handle`` raises: FastStream seeks back to
  the record and it is delivered again. This is the only case that holds a partition, and only
  for as long as the outage lasts.
Kill the process at any point and the record is redelivered; the inbox makes the replay harmless.

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
  ``asyncpg.InterfaceError``). Retrying in place would only hammer a sick database, and
  dead-lettering would throw away valid events for as long as it is sick: ``handle`` waits
  ``backoff_max_s`` and raises ``InfrastructureUnavailable`` so the record is delivered again.
* ``handler`` -- anything else (a constraint violation, a bug, a rule refusing the event): it
  would fail again on every delivery, so it is retried and then dead-lettered as above.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

import asyncpg
import structlog
from aiokafka.errors import MessageSizeTooLargeError
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from faststream.middlewares import AckPolicy
from passerelle_contracts import Envelope, EventData, UnknownEventType, parse_data
from passerelle_contracts.registry import DLQ_SUFFIX
from pydantic import ValidationError

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
    ) -> None:
        self.name = name
        self.handlers = dict(handlers)
        self._unit_of_work = unit_of_work
        self._publish = publish
        self._retry = retry
        self._metrics = metrics

    async def handle(self, record: ConsumerRecord) -> str:
        """Apply one record; return the outcome. Raises only when the record must be redelivered.

        Every line logged meanwhile carries the record's position and, once parsed, its event ids;
        one line per record closes with the outcome and the duration.
        """
        started = time.perf_counter()
        structlog.contextvars.bind_contextvars(
            consumer=self.name, topic=record.topic, partition=record.partition, offset=record.offset
        )
        outcome, attempts, event_type = "redeliver", 0, "unreadable"
        try:
            try:
                envelope = Envelope.model_validate_json(record.value)
            except ValidationError as error:
                outcome = await self._dead_letter(record, "invalid-envelope", _describe(error), 0)
                return outcome
            event_type = envelope.event_type
            outcome, attempts = await self._handle(record, envelope)
            return outcome
        finally:
            duration_s = time.perf_counter() - started
            log.log(
                logging.WARNING if outcome in ("redeliver", "dead-lettered") else logging.INFO,
                "message handled",
                outcome=outcome,
                attempts=attempts,
                duration_ms=round(duration_s * 1000, 2),
            )
            if self._metrics is not None:
                self._metrics.consumed(self.name, event_type, outcome).inc()
                self._metrics.handler_seconds(self.name, event_type).observe(duration_s)
            structlog.contextvars.unbind_contextvars(*_CONTEXT_KEYS)

    async def _handle(self, record: ConsumerRecord, envelope: Envelope) -> tuple[str, int]:
        structlog.contextvars.bind_contextvars(
            event_id=str(envelope.event_id),
            event_type=envelope.event_type,
            correlation_id=str(envelope.correlation_id),
            causation_id=str(envelope.causation_id) if envelope.causation_id else None,
        )
        handler = self.handlers.get(envelope.event_type)
        if handler is None:
            return "ignored", 0  # a topic carries many event types; this consumer needs few
        try:
            data = parse_data(envelope)
        except (ValidationError, UnknownEventType) as error:
            return await self._dead_letter(record, "invalid-data", _describe(error), 0), 0
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
                    return await self._dead_letter(record, "handler-failed", repr(error), attempts), attempts
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

    async def _dead_letter(self, record: ConsumerRecord, reason: str, error: str, attempts: int) -> str:
        """Write the record to ``<topic>.dlq`` with the original headers (tracing, event ids) and
        the reason beside them; ``acks=all`` before the offset moves on.

        A dead letter too large for its topic is written without its value: the record itself
        stays in its own topic (kept for ever), at the position the headers name. Holding the
        partition instead would hold it for ever, since the record will never get smaller."""
        original = {k: bytes(v).decode("utf-8", "replace") for k, v in (record.headers or ())}
        headers = original | {
            "x-dlq-reason": reason,
            "x-dlq-error": error[:4000],
            "x-dlq-consumer": self.name,
            "x-dlq-attempts": str(attempts),
            "x-dlq-original-topic": record.topic,
            "x-dlq-original-partition": str(record.partition),
            "x-dlq-original-offset": str(record.offset),
            "x-dlq-failed-at": datetime.now(UTC).isoformat(),
        }
        topic = record.topic + DLQ_SUFFIX
        try:
            try:
                await self._publish(record.value, topic=topic, key=record.key, headers=headers)
            except MessageSizeTooLargeError:
                size = len(record.value or b"")
                headers["x-dlq-value-dropped"] = f"{size} bytes, too large for the dead-letter topic"
                await self._publish(b"", topic=topic, key=record.key, headers=headers)
        except Exception as publish_error:
            raise InfrastructureUnavailable(f"dead-letter write failed: {publish_error!r}") from publish_error
        log.error("message dead-lettered", reason=reason, error=error[:500], attempts=attempts)
        if self._metrics is not None:
            self._metrics.dead_letters(record.topic, reason).inc()
        return "dead-lettered"


_CONTEXT_KEYS = ("consumer", "topic", "partition", "offset", "event_id", "event_type", "correlation_id", "causation_id")


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

    async def on_batch(message: KafkaMessage) -> None:
        # Records of one partition arrive in order; each is applied in its own transaction, and
        # the batch's offsets are committed once, after the last record. A crash or a
        # redelivery replays the batch, and the inbox skips what was already applied.
        raw = message.raw_message
        batch = raw if isinstance(raw, (tuple, list)) else (raw,)  # the in-memory test broker gives a list
        for record in batch:
            await consumer.handle(record)

    on_batch.__name__ = f"on_{consumer.name.replace('-', '_')}"
    broker.subscriber(
        *names,
        group_id=settings.group(consumer.name),
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.NACK_ON_ERROR,
        batch=True,
        max_records=settings.consumer_batch_max,
        batch_timeout_ms=200,
        title=f"{settings.service_name}.{consumer.name}",
        description=f"Handles {', '.join(sorted(consumer.handlers))}",
    )(on_batch)
