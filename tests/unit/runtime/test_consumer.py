"""The reliable consumer on FastStream's in-memory broker, with a fake database."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import asyncpg
import pytest
from aiokafka.errors import MessageSizeTooLargeError
from faststream.kafka import KafkaBroker, TestKafkaBroker
from faststream.kafka.annotations import KafkaMessage
from passerelle_contracts import Envelope
from passerelle_contracts.equipment_v1 import TOPIC

from services.runtime.consumer import InfrastructureUnavailable, ReliableConsumer, RetryPolicy, subscribe
from services.runtime.metrics import Metrics
from services.runtime.settings import ServiceSettings
from services.runtime.testing import FakeStore

EXAMPLE = Path(__file__).resolve().parents[3] / "contracts" / "examples" / "DevicesDelivered.v1.json"
SETTINGS = ServiceSettings(service_name="test", database_url="postgresql://unused", http_port=0, topic_prefix="t.")
FAST = RetryPolicy(max_attempts=3, backoff_initial_s=0.001, backoff_max_s=0.002)


def delivery(**changes: Any) -> bytes:
    raw = json.loads(EXAMPLE.read_text("utf-8"))
    raw.update(changes)
    return json.dumps(raw).encode()


class Harness:
    def __init__(self, handler: Any, metrics: Metrics | None = None) -> None:
        self.broker = KafkaBroker()
        self.store: FakeStore[SimpleNamespace] = FakeStore(SimpleNamespace())
        self.dead: list[tuple[bytes, dict[str, str]]] = []
        self.consumer = ReliableConsumer(
            "indicators",
            {"DevicesDelivered": handler},
            unit_of_work=self.store.unit_of_work,
            publish=self.broker.publish,
            retry=FAST,
            metrics=metrics,
            topic_prefix=SETTINGS.topic_prefix,  # as the runtime builds it (Runtime.consume)
        )
        subscribe(self.broker, SETTINGS, self.consumer, [TOPIC])

        @self.broker.subscriber("t." + TOPIC + ".dlq")
        async def dlq(message: KafkaMessage) -> None:
            record = message.raw_message
            assert not isinstance(record, tuple)  # one record: this subscriber does not batch
            self.dead.append((record.value, {k: v.decode() for k, v in record.headers}))


@pytest.fixture
def calls() -> list[Envelope]:
    return []


async def test_a_valid_event_is_applied_once_even_when_delivered_twice(calls: list[Envelope]) -> None:
    async def handler(uow: Any, envelope: Envelope, data: Any) -> None:
        calls.append(envelope)

    h = Harness(handler)
    async with TestKafkaBroker(h.broker, connect_only=False) as broker:
        await broker.publish(delivery(), "t." + TOPIC)
        await broker.publish(delivery(), "t." + TOPIC)
    assert len(calls) == 1
    assert calls[0].data["total_devices"] == 25
    assert len(h.store.inbox) == 1
    assert h.dead == []


async def test_a_message_that_is_not_an_envelope_is_dead_lettered_with_its_reason(calls: list[Envelope]) -> None:
    async def handler(uow: Any, envelope: Envelope, data: Any) -> None:
        calls.append(envelope)

    h = Harness(handler)
    async with TestKafkaBroker(h.broker, connect_only=False) as broker:
        await broker.publish(b'{"hello": "world"}', "t." + TOPIC)
        await broker.publish(delivery(), "t." + TOPIC)
    assert len(calls) == 1, "the next valid message is still processed"
    [(body, headers)] = h.dead
    assert body == b'{"hello": "world"}'
    assert headers["x-dlq-reason"] == "invalid-envelope"
    assert "event_id: Field required" in headers["x-dlq-error"]
    assert headers["x-dlq-consumer"] == "indicators"
    assert headers["x-dlq-original-topic"] == "t." + TOPIC
    assert headers["x-dlq-original-offset"] == "0"


async def test_a_payload_breaking_its_contract_is_dead_lettered_at_once(calls: list[Envelope]) -> None:
    attempts = 0

    async def handler(uow: Any, envelope: Envelope, data: Any) -> None:
        nonlocal attempts
        attempts += 1

    h = Harness(handler)
    raw = json.loads(delivery())
    raw["data"]["total_devices"] = -3
    async with TestKafkaBroker(h.broker, connect_only=False) as broker:
        await broker.publish(json.dumps(raw).encode(), "t." + TOPIC)
    assert attempts == 0
    [(_, headers)] = h.dead
    assert headers["x-dlq-reason"] == "invalid-data"
    assert "total_devices: Input should be greater than or equal to 1" in headers["x-dlq-error"]


async def test_a_failing_handler_is_retried_then_dead_lettered_and_nothing_is_recorded() -> None:
    attempts = 0

    async def handler(uow: Any, envelope: Envelope, data: Any) -> None:
        nonlocal attempts
        attempts += 1
        raise RuntimeError("boom")

    h = Harness(handler)
    async with TestKafkaBroker(h.broker, connect_only=False) as broker:
        await broker.publish(delivery(), "t." + TOPIC)
    assert attempts == FAST.max_attempts
    assert h.store.inbox == set(), "a failed attempt rolls back its inbox row"
    [(_, headers)] = h.dead
    assert headers["x-dlq-reason"] == "handler-failed"
    assert headers["x-dlq-attempts"] == str(FAST.max_attempts)
    assert "RuntimeError('boom')" in headers["x-dlq-error"]


async def test_a_handler_that_recovers_on_retry_is_applied_once() -> None:
    attempts = 0

    async def handler(uow: Any, envelope: Envelope, data: Any) -> None:
        nonlocal attempts
        attempts += 1
        if attempts < 2:
            raise RuntimeError("transient")

    h = Harness(handler)
    async with TestKafkaBroker(h.broker, connect_only=False) as broker:
        await broker.publish(delivery(), "t." + TOPIC)
    assert attempts == 2
    assert len(h.store.inbox) == 1
    assert h.dead == []


async def test_event_types_without_a_handler_are_ignored_without_a_dead_letter() -> None:
    async def handler(uow: Any, envelope: Envelope, data: Any) -> None:
        raise AssertionError("not for this consumer")

    h = Harness(handler)
    batch_declared = (EXAMPLE.parent / "BatchDeclared.v1.json").read_bytes()  # the topic carries it, no handler
    async with TestKafkaBroker(h.broker, connect_only=False) as broker:
        await broker.publish(batch_declared, "t." + TOPIC)
    assert h.store.inbox == set()
    assert h.dead == []


# The database's own failures, by SQLSTATE: none of them says anything about the message.
UNAVAILABLE = [
    pytest.param(asyncpg.exceptions.ReadOnlySQLTransactionError, id="25006-read-only-after-failover"),
    pytest.param(asyncpg.exceptions.QueryCanceledError, id="57014-statement-timeout"),
    pytest.param(asyncpg.exceptions.AdminShutdownError, id="57P01-admin-shutdown"),
    pytest.param(asyncpg.exceptions.CrashShutdownError, id="57P02-crash-shutdown"),
    pytest.param(asyncpg.exceptions.DiskFullError, id="53100-disk-full"),
    pytest.param(asyncpg.exceptions.OutOfMemoryError, id="53200-out-of-memory"),
    pytest.param(asyncpg.exceptions.ConnectionFailureError, id="08006-connection-failure"),
    pytest.param(asyncpg.exceptions.ClientCannotConnectError, id="08001-cannot-connect"),
    pytest.param(asyncpg.exceptions.LockNotAvailableError, id="55P03-lock-not-available"),
]
CONFLICTS = [
    pytest.param(asyncpg.exceptions.DeadlockDetectedError, id="40P01-deadlock"),
    pytest.param(asyncpg.exceptions.SerializationError, id="40001-serialization-failure"),
]


def failing_with(error: type[Exception], times: int | None = None) -> tuple[Any, list[int]]:
    """A handler that raises ``error`` (the first ``times`` calls, or always), and its call count."""
    count = [0]

    async def handler(uow: Any, envelope: Envelope, data: Any) -> None:
        count[0] += 1
        if times is None or count[0] <= times:
            raise error(f"{error.__name__} from the database")

    return handler, count


@pytest.mark.parametrize("error", UNAVAILABLE)
async def test_an_unavailable_database_never_dead_letters_a_valid_event(error: type[Exception]) -> None:
    handler, calls = failing_with(error)
    h = Harness(handler)
    with pytest.raises(InfrastructureUnavailable):  # the in-memory broker hands the redelivery signal back
        async with TestKafkaBroker(h.broker, connect_only=False) as broker:
            await broker.publish(delivery(), "t." + TOPIC)
    assert h.dead == [], f"{error.__name__} is the database's state, not the message's fault"
    assert calls == [1], "no retry in place: the record is handed back at once to be delivered again"
    assert h.store.inbox == set()


@pytest.mark.parametrize("error", CONFLICTS)
async def test_a_conflict_that_persists_is_retried_in_place_then_redelivered_never_dead_lettered(
    error: type[Exception],
) -> None:
    handler, calls = failing_with(error)
    h = Harness(handler)
    with pytest.raises(InfrastructureUnavailable):
        async with TestKafkaBroker(h.broker, connect_only=False) as broker:
            await broker.publish(delivery(), "t." + TOPIC)
    assert h.dead == []
    assert calls[0] == FAST.conflict_max_attempts, "retried in place before holding the partition"
    assert h.store.inbox == set()


@pytest.mark.parametrize("error", CONFLICTS)
async def test_a_conflict_that_clears_on_the_second_try_is_applied_once(error: type[Exception]) -> None:
    handler, calls = failing_with(error, times=1)
    h = Harness(handler)
    async with TestKafkaBroker(h.broker, connect_only=False) as broker:
        await broker.publish(delivery(), "t." + TOPIC)
    assert calls == [2]
    assert len(h.store.inbox) == 1
    assert h.store.commits == 1
    assert h.dead == []


async def test_deadlocks_do_not_use_up_the_tries_of_a_failing_handler() -> None:
    handler, calls = failing_with(asyncpg.exceptions.DeadlockDetectedError, times=FAST.max_attempts)
    h = Harness(handler)
    async with TestKafkaBroker(h.broker, connect_only=False) as broker:
        await broker.publish(delivery(), "t." + TOPIC)
    assert calls == [FAST.max_attempts + 1]
    assert len(h.store.inbox) == 1
    assert h.dead == []


async def test_a_wrapped_database_error_is_classified_by_its_cause() -> None:
    async def handler(uow: Any, envelope: Envelope, data: Any) -> None:
        try:
            raise asyncpg.exceptions.ReadOnlySQLTransactionError("cannot execute INSERT in a read-only transaction")
        except asyncpg.PostgresError as error:
            raise RuntimeError("could not record the delivery") from error

    h = Harness(handler)
    with pytest.raises(InfrastructureUnavailable):
        async with TestKafkaBroker(h.broker, connect_only=False) as broker:
            await broker.publish(delivery(), "t." + TOPIC)
    assert h.dead == []


async def test_a_constraint_violation_is_still_the_message_s_fault_and_is_dead_lettered() -> None:
    handler, calls = failing_with(asyncpg.exceptions.CheckViolationError)
    h = Harness(handler)
    async with TestKafkaBroker(h.broker, connect_only=False) as broker:
        await broker.publish(delivery(), "t." + TOPIC)
    assert calls == [FAST.max_attempts]
    [(_, headers)] = h.dead
    assert headers["x-dlq-reason"] == "handler-failed"
    assert "CheckViolationError" in headers["x-dlq-error"]


async def test_a_value_the_database_cannot_take_is_the_message_s_fault_not_an_outage() -> None:
    """asyncpg refuses an integer beyond int4 before sending it, with an ``InterfaceError`` that is
    also a ``ValueError``: an event carrying one would otherwise hold its partition for ever."""
    handler, calls = failing_with(asyncpg.exceptions._base.DataError)  # not the server's DataError (class 22)
    h = Harness(handler)
    async with TestKafkaBroker(h.broker, connect_only=False) as broker:
        await broker.publish(delivery(), "t." + TOPIC)
    assert calls == [FAST.max_attempts]
    [(_, headers)] = h.dead
    assert headers["x-dlq-reason"] == "handler-failed"


@pytest.mark.parametrize("error", [*UNAVAILABLE, *CONFLICTS])
async def test_handle_raises_so_the_broker_delivers_the_record_again_when_the_database_fails(
    error: type[Exception],
) -> None:
    """The real broker's path, without the in-memory one: ``handle`` raising is what seeks back."""
    handler, _ = failing_with(error)
    store: FakeStore[SimpleNamespace] = FakeStore(SimpleNamespace())
    dead: list[Any] = []

    async def publish(*args: Any, **kwargs: Any) -> None:
        dead.append((args, kwargs))

    consumer = ReliableConsumer(
        "indicators", {"DevicesDelivered": handler}, unit_of_work=store.unit_of_work, publish=publish, retry=FAST
    )
    record = SimpleNamespace(topic="t." + TOPIC, partition=0, offset=7, key=b"k", value=delivery(), headers=[])
    with pytest.raises(InfrastructureUnavailable):
        await consumer.handle(record)
    assert dead == []
    assert store.inbox == set()


def test_backoff_grows_and_is_capped() -> None:
    policy = RetryPolicy(max_attempts=6, backoff_initial_s=0.2, backoff_max_s=1.0)
    assert [policy.delay(n) for n in range(1, 6)] == [0.2, 0.4, 0.8, 1.0, 1.0]


async def test_events_a_handler_emits_are_caused_by_the_event_handled_and_share_its_flow() -> None:
    from passerelle_contracts.funding_v1 import EpnLabelled

    async def handler(uow: Any, envelope: Envelope, data: Any) -> None:
        uow.emit(EpnLabelled(epn="epn-x", commune=None, labelled_on=data.delivered_on), subject="epn-epn-x")

    h = Harness(handler)
    async with TestKafkaBroker(h.broker, connect_only=False) as broker:
        await broker.publish(delivery(), "t." + TOPIC)
    [emitted] = h.store.events()
    handled = Envelope.model_validate_json(delivery())
    assert emitted.causation_id == handled.event_id
    assert emitted.correlation_id == handled.correlation_id
    assert emitted.actor.role == "system"


class Broker:
    """A dead-letter topic that refuses records over ``max_bytes``, as Kafka does."""

    def __init__(self, max_bytes: int = 1_000_000) -> None:
        self.max_bytes = max_bytes
        self.dead: list[tuple[bytes, dict[str, str]]] = []

    async def publish(self, value: bytes, *, topic: str, key: bytes, headers: dict[str, str]) -> None:
        if len(value) > self.max_bytes:
            raise MessageSizeTooLargeError(f"{len(value)} bytes")
        self.dead.append((value, headers))


def a_consumer(broker: Broker) -> ReliableConsumer:
    store: FakeStore[SimpleNamespace] = FakeStore(SimpleNamespace())
    return ReliableConsumer("indicators", {}, unit_of_work=store.unit_of_work, publish=broker.publish, retry=FAST)


async def test_a_dead_letter_keeps_the_original_headers_beside_its_own() -> None:
    broker = Broker()
    record = SimpleNamespace(
        topic="t." + TOPIC, partition=1, offset=9, key=b"k", value=b"not json",
        headers=[("traceparent", b"00-abc-def-01"), ("event_type", b"DevicesDelivered")],
    )  # fmt: skip
    assert await a_consumer(broker).handle(record) == "dead-lettered"
    [(_, headers)] = broker.dead
    assert headers["traceparent"] == "00-abc-def-01"
    assert headers["event_type"] == "DevicesDelivered"
    assert headers["x-dlq-reason"] == "invalid-envelope"


async def test_a_record_too_large_for_the_dead_letter_topic_is_dead_lettered_without_its_value_and_the_partition_moves_on() -> (
    None
):
    """The dead-letter write failing for a reason of the record itself is no outage: holding the
    partition would hold it for ever. The record stays in its own topic, which the headers name."""
    broker = Broker(max_bytes=100)
    record = SimpleNamespace(topic="t." + TOPIC, partition=2, offset=41, key=b"k", value=b"x" * 500, headers=[])
    assert await a_consumer(broker).handle(record) == "dead-lettered"
    [(value, headers)] = broker.dead
    assert value == b""
    assert headers["x-dlq-value-dropped"] == "500 bytes, too large for the dead-letter topic"
    assert (headers["x-dlq-original-topic"], headers["x-dlq-original-offset"]) == ("t." + TOPIC, "41")


async def test_each_record_is_counted_by_event_type_and_outcome_and_each_dead_letter_by_reason() -> None:
    async def handler(uow: Any, envelope: Envelope, data: Any) -> None:
        pass

    metrics = Metrics("actions")
    h = Harness(handler, metrics)
    async with TestKafkaBroker(h.broker, connect_only=False) as broker:
        await broker.publish(delivery(), "t." + TOPIC)
        await broker.publish(delivery(), "t." + TOPIC)
        await broker.publish(b"not json", "t." + TOPIC)

    def count(name: str, **labels: str) -> float | None:
        return metrics.registry.get_sample_value(name, labels)

    labels = {"consumer": "indicators", "event_type": "DevicesDelivered"}
    assert count("passerelle_events_consumed_total", **labels, outcome="processed") == 1
    assert count("passerelle_events_consumed_total", **labels, outcome="duplicate") == 1
    assert (
        count(
            "passerelle_events_consumed_total", consumer="indicators", event_type="unreadable", outcome="dead-lettered"
        )
        == 1
    )
    assert count("passerelle_dead_letters_total", topic="t." + TOPIC, reason="invalid-envelope") == 1
    assert count("passerelle_handler_duration_seconds_count", **labels) == 2
