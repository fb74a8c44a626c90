"""A batch is bounded in time (it stops at its deadline; each partition is sought back to its first
record not handled, so the commit that follows covers exactly what was handled), and the lag of
each partition follows the records handled."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from aiokafka import TopicPartition
from passerelle_contracts import Envelope
from passerelle_contracts.equipment_v1 import TOPIC

from services.runtime.consumer import ReliableConsumer, RetryPolicy
from services.runtime.metrics import Metrics
from services.runtime.testing import FakeStore

EXAMPLE = json.loads(
    (Path(__file__).resolve().parents[3] / "contracts" / "examples" / "DevicesDelivered.v1.json").read_text()
)
FAST = RetryPolicy(max_attempts=3, backoff_initial_s=0.001, backoff_max_s=0.002)
P0, P1 = TopicPartition(TOPIC, 0), TopicPartition(TOPIC, 1)


def at(tp: TopicPartition, offset: int) -> SimpleNamespace:
    event = EXAMPLE | {"event_id": str(uuid.uuid4()), "subject": f"{tp.partition}:{offset}"}
    value = json.dumps(event).encode()
    return SimpleNamespace(topic=tp.topic, partition=tp.partition, offset=offset, key=b"k", value=value, headers=[])


class FakeKafka:
    """What the consumer uses of aiokafka's: the assignment, high-water marks, seek."""

    def __init__(self, highwater: dict[TopicPartition, int]) -> None:
        self.highwaters = dict(highwater)
        self.seeks: list[tuple[TopicPartition, int]] = []

    def assignment(self) -> set[TopicPartition]:
        return set(self.highwaters)

    def highwater(self, partition: TopicPartition) -> int | None:
        return self.highwaters.get(partition)

    def seek(self, partition: TopicPartition, offset: int) -> None:
        self.seeks.append((partition, offset))


class Recorder:
    """A handler that notes what it applied, and is slow on the subjects named in ``slow``."""

    def __init__(self, slow: tuple[str, ...] = (), seconds: float = 0.0) -> None:
        self.applied: list[str] = []
        self.slow, self.seconds = slow, seconds

    async def __call__(self, uow: Any, envelope: Envelope, data: Any) -> None:
        if envelope.subject in self.slow:
            await asyncio.sleep(self.seconds)
        self.applied.append(envelope.subject)


def a_consumer(handler: Recorder, metrics: Metrics | None = None) -> ReliableConsumer:
    store: FakeStore[Any] = FakeStore(SimpleNamespace())

    async def publish(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("no dead letter expected")

    return ReliableConsumer(
        "indicators",
        {"DevicesDelivered": handler},
        unit_of_work=store.unit_of_work,
        publish=publish,
        retry=FAST,
        metrics=metrics,
        dead_letters=store,
    )


def lag(metrics: Metrics, tp: TopicPartition) -> float | None:
    labels = {"consumer": "indicators", "topic": tp.topic, "partition": str(tp.partition)}
    return metrics.registry.get_sample_value("passerelle_consumer_lag", labels)


async def test_a_batch_stops_at_its_deadline_and_each_partition_is_sought_back_to_its_first_record_not_handled() -> (
    None
):
    metrics = Metrics("actions")
    handler = Recorder(slow=("0:1",), seconds=0.6)
    kafka = FakeKafka({P0: 4, P1: 13})
    batch = [at(P0, 0), at(P0, 1), at(P0, 2), at(P0, 3), at(P1, 10), at(P1, 11), at(P1, 12)]  # as getmany chains them
    outcomes = await a_consumer(handler, metrics).handle_batch(batch, kafka=kafka, deadline=time.monotonic() + 0.3)
    assert outcomes == ["processed", "processed"], "the record under way when the deadline passed is finished"
    assert handler.applied == ["0:0", "0:1"]
    assert kafka.seeks == [(P0, 2), (P1, 10)], "the rest of each partition is delivered again, nothing skipped"
    assert (
        metrics.registry.get_sample_value("passerelle_consumer_batches_cut_short_total", {"consumer": "indicators"})
        == 1
    )
    assert (lag(metrics, P0), lag(metrics, P1)) == (2, 3)


async def test_a_batch_handles_one_record_even_when_its_deadline_has_already_passed() -> None:
    """Else a batch that starts late would be delivered again and again, and never move."""
    handler = Recorder()
    kafka = FakeKafka({P0: 3})
    outcomes = await a_consumer(handler).handle_batch(
        [at(P0, 0), at(P0, 1), at(P0, 2)], kafka=kafka, deadline=time.monotonic() - 1
    )
    assert outcomes == ["processed"]
    assert kafka.seeks == [(P0, 1)]


async def test_a_batch_within_its_deadline_is_handled_whole_and_nothing_is_sought() -> None:
    metrics = Metrics("actions")
    handler = Recorder()
    kafka = FakeKafka({P0: 10, P1: 13})
    batch = [at(P0, 0), at(P0, 1), at(P0, 2), at(P0, 3), at(P1, 10), at(P1, 11), at(P1, 12)]
    outcomes = await a_consumer(handler, metrics).handle_batch(batch, kafka=kafka, deadline=time.monotonic() + 60)
    assert outcomes == ["processed"] * 7
    assert kafka.seeks == []
    assert (lag(metrics, P0), lag(metrics, P1)) == (6, 0), "high-water mark minus the next offset to handle"
    assert (
        metrics.registry.get_sample_value("passerelle_consumer_batches_cut_short_total", {"consumer": "indicators"})
        is None
    )


async def test_without_a_kafka_consumer_to_seek_with_a_batch_is_never_cut() -> None:
    """FastStream's in-memory broker cannot deliver a record again: cutting there would lose it."""
    handler = Recorder()
    outcomes = await a_consumer(handler).handle_batch([at(P0, 0), at(P0, 1)], kafka=None, deadline=time.monotonic() - 1)
    assert outcomes == ["processed", "processed"]


async def test_the_lag_is_refreshed_at_scrape_and_a_partition_given_away_is_no_longer_reported() -> None:
    metrics = Metrics("actions")
    kafka = FakeKafka({P0: 4, P1: 11})
    await a_consumer(Recorder(), metrics).handle_batch([at(P0, 0), at(P0, 1), at(P1, 10)], kafka=kafka)
    assert (lag(metrics, P0), lag(metrics, P1)) == (2, 0)

    kafka.highwaters = {P0: 9}  # more records arrived on P0; P1 went to another replica in a rebalance
    text = (await metrics.render()).decode()
    assert (lag(metrics, P0), lag(metrics, P1)) == (7, None)
    assert f'passerelle_consumer_lag{{consumer="indicators",partition="0",topic="{TOPIC}"}} 7.0' in text


async def test_records_of_a_partition_given_away_mid_batch_are_left_to_its_new_owner() -> None:
    """A rebalance while the batch runs: the partition's new owner starts from the last commit, so
    handling its records here too would only race it (and write its dead letters twice)."""

    class Rebalancing(Recorder):
        async def __call__(self, uow: Any, envelope: Envelope, data: Any) -> None:
            await super().__call__(uow, envelope, data)
            if envelope.subject == "0:0":
                del kafka.highwaters[P1]  # revoked while 0:0 was handled

    handler = Rebalancing()
    kafka = FakeKafka({P0: 2, P1: 12})
    outcomes = await a_consumer(handler).handle_batch([at(P0, 0), at(P1, 10), at(P0, 1), at(P1, 11)], kafka=kafka)
    assert handler.applied == ["0:0", "0:1"]
    assert outcomes == ["processed", "processed"]
