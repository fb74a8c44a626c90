"""A batch is applied in one transaction: its inbox rows claimed at once, each handler called in
the batch's order with its own record's context, set-wise handlers given their runs; a failure
rolls it back and its records are applied one by one, so one bad record still fails alone."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from aiokafka import TopicPartition
from passerelle_contracts import Envelope
from passerelle_contracts.equipment_v1 import TOPIC

from services.runtime.consumer import ReliableConsumer, RetryPolicy, SetWise
from services.runtime.metrics import Metrics
from services.runtime.testing import FakeStore

from .test_consumer_batches import FakeKafka, Recorder, at

EXAMPLES = Path(__file__).resolve().parents[3] / "contracts" / "examples"
FAST = RetryPolicy(max_attempts=2, backoff_initial_s=0.001, backoff_max_s=0.002)
P0, P1 = TopicPartition(TOPIC, 0), TopicPartition(TOPIC, 1)


class DeadLetters:
    def __init__(self) -> None:
        self.sent: list[dict[str, str]] = []

    async def publish(self, value: bytes, *, topic: str, key: bytes, headers: dict[str, str]) -> None:
        self.sent.append(headers)


class Emitting(Recorder):
    """Notes what it applied in the repository (rolled back with the transaction) and emits an
    event per record; refuses the subjects in ``refused``."""

    def __init__(self, refused: tuple[str, ...] = ()) -> None:
        super().__init__()
        self.refused = refused

    async def __call__(self, uow: Any, envelope: Envelope, data: Any) -> None:
        if envelope.subject in self.refused:
            raise ValueError(f"{envelope.subject} refused")
        uow.repo.applied.append(envelope.subject)
        uow.emit(data, envelope.subject)
        await super().__call__(uow, envelope, data)


def consumer_of(
    handlers: dict[str, Any], metrics: Metrics | None = None
) -> tuple[ReliableConsumer, FakeStore[Any], DeadLetters]:
    store: FakeStore[Any] = FakeStore(SimpleNamespace(applied=[]))
    dlq = DeadLetters()
    consumer = ReliableConsumer(
        "indicators",
        handlers,
        unit_of_work=store.unit_of_work,
        publish=dlq.publish,
        retry=FAST,
        metrics=metrics,
        dead_letters=store,
    )
    return consumer, store, dlq


def batch(count: int) -> list[SimpleNamespace]:
    return [at(P0, offset) for offset in range(count)]


def subject(record: SimpleNamespace) -> str:
    return f"{record.partition}:{record.offset}"


async def test_a_batch_is_applied_in_one_transaction_and_each_event_emitted_keeps_its_own_cause() -> None:
    handler = Emitting()
    consumer, store, _ = consumer_of({"DevicesDelivered": handler})
    records = batch(5)
    assert await consumer.handle_batch(records) == ["processed"] * 5
    assert store.commits == 1, "one transaction for the whole batch"
    assert store.repo.applied == ["0:0", "0:1", "0:2", "0:3", "0:4"]
    causes = [Envelope.model_validate_json(r.value).event_id for r in records]
    assert [e.causation_id for e in store.events()] == causes, "each event caused by its own record"
    assert len(store.inbox) == 5


async def test_one_bad_record_rolls_the_batch_back_and_fails_alone_while_the_others_commit_once() -> None:
    metrics = Metrics("actions")
    handler = Emitting(refused=("0:2",))
    consumer, store, dlq = consumer_of({"DevicesDelivered": handler}, metrics)
    outcomes = await consumer.handle_batch(batch(5))
    assert outcomes == ["processed", "processed", "dead-lettered", "processed", "processed"]
    assert store.repo.applied == ["0:0", "0:1", "0:3", "0:4"], "the rolled-back attempt left nothing behind"
    assert len(store.events()) == 4
    assert [h["x-dlq-reason"] for h in dlq.sent] == ["handler-failed"]
    assert (
        metrics.registry.get_sample_value("passerelle_consumer_batches_applied_alone_total", {"consumer": "indicators"})
        == 1
    )


async def test_the_same_event_twice_in_one_batch_is_applied_once() -> None:
    handler = Emitting()
    consumer, store, _ = consumer_of({"DevicesDelivered": handler})
    first = at(P0, 0)
    again = SimpleNamespace(**{**vars(first), "offset": 1})  # published twice: a new offset, the same event
    assert await consumer.handle_batch([first, again, at(P0, 2)]) == ["processed", "duplicate", "processed"]
    assert store.repo.applied == ["0:0", "0:2"]
    assert await consumer.handle_batch([again]) == ["duplicate"], "and its inbox row was committed"


async def test_a_set_wise_handler_gets_each_run_of_its_records_at_once_in_order() -> None:
    runs: list[list[str]] = []

    async def many(uow: Any, items: Sequence[tuple[Envelope, Any]]) -> None:
        runs.append([envelope.subject for envelope, _ in items])

    plain = Recorder()
    consumer, _, _ = consumer_of({"DevicesDelivered": SetWise(many), "BatchDeclared": plain})
    declared = at(P0, 2)
    example = json.loads(EXAMPLES.joinpath("BatchDeclared.v1.json").read_text()) | {"event_id": str(uuid.uuid4())}
    declared.value = json.dumps(example).encode()
    records = [at(P0, 0), at(P0, 1), declared, at(P0, 3)]
    assert await consumer.handle_batch(records) == ["processed"] * 4
    assert plain.applied == [example["subject"]]
    assert runs[0] == ["0:0", "0:1"], "a run of consecutive records, at once"
    assert runs[-1] == ["0:3"], "a record of another handler ends the run"


async def test_records_not_reached_by_the_deadline_give_back_their_inbox_rows_and_are_applied_when_they_return() -> (
    None
):
    handler = Recorder(slow=("0:1",), seconds=0.3)
    consumer, store, _ = consumer_of({"DevicesDelivered": handler})
    kafka = FakeKafka({P0: 4})
    records = batch(4)
    outcomes = await consumer.handle_batch(records, kafka=kafka, deadline=time.monotonic() + 0.1)
    assert outcomes == ["processed", "processed"]
    assert kafka.seeks == [(P0, 2)]
    assert store.commits == 1
    assert await consumer.handle_batch(records[2:], kafka=kafka) == ["processed", "processed"], (
        "not duplicates: their inbox rows were given back"
    )
    assert handler.applied == ["0:0", "0:1", "0:2", "0:3"]


async def test_a_batch_with_one_record_to_apply_applies_it_alone_with_its_retries() -> None:
    class FailingOnce(Emitting):
        async def __call__(self, uow: Any, envelope: Envelope, data: Any) -> None:
            if not self.applied:
                self.applied.append("refused once")
                raise ValueError("not yet")
            await super().__call__(uow, envelope, data)

    handler = FailingOnce()
    consumer, store, dlq = consumer_of({"DevicesDelivered": handler})
    unknown = at(P0, 1)
    unknown.value = unknown.value.replace(b'"DevicesDelivered"', b'"DevicesTeleported"')
    assert await consumer.handle_batch([at(P0, 0), unknown]) == ["processed", "ignored"]
    assert handler.applied == ["refused once", "0:0"], "tried again in place, as a record alone is"
    assert (store.commits, dlq.sent) == (1, [])


def unknown_at(tp: TopicPartition, offset: int) -> SimpleNamespace:
    record = at(tp, offset)
    record.value = record.value.replace(b'"DevicesDelivered"', b'"DevicesTeleported"')
    return record


async def test_records_ignored_after_the_records_applied_together_are_handled_and_nothing_is_sought() -> None:
    """The indicators consumer ignores most types of its topics: a batch that ends with records it
    ignores (or dead-letters) is not cut short for it."""
    metrics = Metrics("actions")
    consumer, _, _ = consumer_of({"DevicesDelivered": Emitting()}, metrics)
    kafka = FakeKafka({P0: 4, P1: 12})
    batch = [at(P0, 0), at(P0, 1), at(P0, 2), unknown_at(P0, 3), unknown_at(P1, 10), unknown_at(P1, 11)]
    outcomes = await consumer.handle_batch(batch, kafka=kafka, deadline=time.monotonic() + 60)
    assert outcomes == ["processed"] * 3 + ["ignored"] * 3
    assert kafka.seeks == []
    assert (
        metrics.registry.get_sample_value("passerelle_consumer_batches_cut_short_total", {"consumer": "indicators"})
        is None
    )
    lags = {
        tp.partition: metrics.registry.get_sample_value(
            "passerelle_consumer_lag", {"consumer": "indicators", "topic": TOPIC, "partition": str(tp.partition)}
        )
        for tp in (P0, P1)
    }
    assert lags == {0: 0, 1: 0}, "both partitions moved to their end"
