"""A record is dead-lettered once per position: a batch delivered again (a rebalance, an evicted
member, a crash before the commit) finds its dead letters recorded and does not write them twice;
a dead letter an operator publishes again to its topic (a new position) is handled as any record."""

from __future__ import annotations

import hashlib
import json
import uuid
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from aiokafka.errors import KafkaTimeoutError
from passerelle_contracts import Envelope
from passerelle_contracts.equipment_v1 import TOPIC

from services.runtime.consumer import InfrastructureUnavailable, ReliableConsumer, RetryPolicy
from services.runtime.metrics import Metrics
from services.runtime.testing import FakeStore

EXAMPLE = Path(__file__).resolve().parents[3] / "contracts" / "examples" / "DevicesDelivered.v1.json"
FAST = RetryPolicy(max_attempts=3, backoff_initial_s=0.001, backoff_max_s=0.002)
DELIVERY = EXAMPLE.read_bytes()
EVENT_ID = uuid.UUID(json.loads(DELIVERY)["event_id"])


def sha256(value: bytes) -> bytes:
    return hashlib.sha256(value).digest()


def at(offset: int, value: bytes = DELIVERY, partition: int = 0, topic: str = TOPIC) -> SimpleNamespace:
    return SimpleNamespace(topic=topic, partition=partition, offset=offset, key=b"k", value=value, headers=[])


class DeadLetterTopic:
    def __init__(self) -> None:
        self.sent: list[dict[str, str]] = []
        self.down = False

    async def publish(self, value: bytes, *, topic: str, key: bytes, headers: dict[str, str]) -> None:
        if self.down:
            raise KafkaTimeoutError("no broker")
        self.sent.append(headers)


class Handler:
    """Fails while ``broken``; counts its calls."""

    def __init__(self) -> None:
        self.broken = True
        self.calls = 0

    async def __call__(self, uow: Any, envelope: Envelope, data: Any) -> None:
        self.calls += 1
        if self.broken:
            raise RuntimeError("refused")


def setup(
    metrics: Metrics | None = None, *, handles: tuple[str, ...] = ("DevicesDelivered",), topic_prefix: str = ""
) -> tuple[ReliableConsumer, FakeStore[Any], DeadLetterTopic, Handler]:
    """A consumer whose one ``Handler`` handles the event types ``handles``, reading the topics
    of a deployment whose topic names start with ``topic_prefix``."""
    store: FakeStore[Any] = FakeStore(SimpleNamespace())
    dlq, handler = DeadLetterTopic(), Handler()
    consumer = ReliableConsumer(
        "indicators",
        dict.fromkeys(handles, handler),
        unit_of_work=store.unit_of_work,
        publish=dlq.publish,
        retry=FAST,
        metrics=metrics,
        dead_letters=store,
        topic_prefix=topic_prefix,
    )
    return consumer, store, dlq, handler


async def test_a_batch_delivered_again_does_not_dead_letter_its_records_twice() -> None:
    metrics = Metrics("actions")
    consumer, store, dlq, handler = setup(metrics)
    batch = [at(5), at(6, b"not json")]
    assert await consumer.handle_batch(batch) == ["dead-lettered", "dead-lettered"]
    assert handler.calls == FAST.max_attempts
    assert store.dead_letters == {
        ("indicators", (TOPIC, 0, 5)): (sha256(DELIVERY), "handler-failed", EVENT_ID),
        ("indicators", (TOPIC, 0, 6)): (sha256(b"not json"), "invalid-envelope", None),
    }

    assert await consumer.handle_batch(batch) == ["dead-lettered-before", "dead-lettered-before"]
    assert len(dlq.sent) == 2, "nothing written again"
    assert handler.calls == FAST.max_attempts, "not retried again either"

    def count(name: str, **labels: str) -> float | None:
        return metrics.registry.get_sample_value(name, labels)

    consumed = "passerelle_events_consumed_total"
    assert count(consumed, consumer="indicators", event_type="DevicesDelivered", outcome="dead-lettered-before") == 1
    assert count(consumed, consumer="indicators", event_type="unreadable", outcome="dead-lettered-before") == 1
    assert count("passerelle_dead_letters_total", topic=TOPIC, reason="handler-failed") == 1
    assert count("passerelle_dead_letters_total", topic=TOPIC, reason="invalid-envelope") == 1


async def test_only_the_dead_lettered_positions_of_a_batch_are_skipped() -> None:
    consumer, _, dlq, handler = setup()
    await consumer.handle_batch([at(5)])
    handler.broken = False
    one, two = (json.dumps(json.loads(DELIVERY) | {"event_id": str(uuid.uuid4())}).encode() for _ in "12")
    outcomes = await consumer.handle_batch([at(5), at(6, one), at(5, two, partition=1)])
    assert outcomes == ["dead-lettered-before", "processed", "processed"], "same offset, another partition: handled"
    assert len(dlq.sent) == 1


async def test_a_dead_letter_published_again_to_its_topic_is_handled_and_goes_through_the_inbox() -> None:
    """The operator's replay: the dead letter's value back on the original topic, at a new offset."""
    consumer, store, dlq, handler = setup()
    assert await consumer.handle_batch([at(5)]) == ["dead-lettered"]
    assert store.inbox == set()
    handler.broken = False  # the cause was fixed

    assert await consumer.handle_batch([at(40)]) == ["processed"]
    assert store.inbox == {("indicators", EVENT_ID)}
    assert await consumer.handle_batch([at(40)]) == ["duplicate"], "the replay is itself idempotent"
    assert await consumer.handle_batch([at(5)]) == ["dead-lettered-before"], "the original position stays done"
    assert len(dlq.sent) == 1


async def test_a_dead_letter_is_recorded_only_once_its_topic_acknowledged_it() -> None:
    consumer, store, dlq, _ = setup()
    dlq.down = True
    with pytest.raises(InfrastructureUnavailable):
        await consumer.handle_batch([at(5)])
    assert store.dead_letters == {}, "not recorded: the record is delivered again and dead-lettered then"
    dlq.down = False
    assert await consumer.handle_batch([at(5)]) == ["dead-lettered"]
    assert len(dlq.sent) == 1


async def test_a_batch_whose_dead_letters_cannot_be_looked_up_is_delivered_again_untouched() -> None:
    consumer, store, dlq, handler = setup()

    async def unavailable(consumer: str, positions: Any) -> set[Any]:
        raise OSError("connection refused")

    store.dead_lettered = unavailable  # type: ignore[method-assign]  # the database is down
    with pytest.raises(InfrastructureUnavailable):
        await consumer.handle_batch([at(5)])
    assert handler.calls == 0 and dlq.sent == []


async def test_another_record_at_the_position_of_an_old_dead_letter_is_handled_not_skipped() -> None:
    """Offsets start again at 0 when a topic is recreated or a broker's data is reset, while the
    database keeps its dead letters: a position alone does not name a record, its content does."""
    consumer, _, dlq, handler = setup()
    assert await consumer.handle_batch([at(5), at(6, b"not json")]) == ["dead-lettered", "dead-lettered"]
    handler.broken = False
    other = json.dumps(json.loads(DELIVERY) | {"event_id": str(uuid.uuid4())}).encode()
    assert await consumer.handle_batch([at(5, other), at(6, b"not json either")]) == ["processed", "dead-lettered"]
    assert len(dlq.sent) == 3
