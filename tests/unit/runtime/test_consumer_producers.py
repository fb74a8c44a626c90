"""A consumer applies only what its topic's producer writes: a record whose envelope names another
source than the topic's producer, or an event type the topic does not carry, is dead-lettered
(``wrong-producer``) before any handler runs. The broker's ACLs keep a service off the others'
topics; this check catches a stolen principal writing lies on its own topic, and shows them to
the operators as dead letters rather than as silent effects."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from faststream.kafka import TestKafkaBroker
from passerelle_contracts import Envelope, actions_v1, equipment_v1
from passerelle_contracts.registry import TOPICS

from services.runtime.metrics import Metrics
from services.runtime.service import Runtime
from services.runtime.settings import ServiceSettings

from .test_consumer import Harness, delivery
from .test_consumer_dead_letters import at, setup

EXAMPLES = Path(__file__).resolve().parents[3] / "contracts" / "examples"
ACTIONS, EQUIPMENT = actions_v1.TOPIC, equipment_v1.TOPIC


def example(event_type: str, **changes: Any) -> bytes:
    """The contracts' example of ``event_type`` (as its producer writes it), with ``changes``."""
    raw = json.loads((EXAMPLES / f"{event_type}.v1.json").read_text("utf-8"))
    return json.dumps(raw | changes).encode()


def event_id(value: bytes) -> uuid.UUID:
    return uuid.UUID(json.loads(value)["event_id"])


async def test_an_event_whose_source_is_not_the_topics_producer_is_dead_lettered_with_the_reason() -> None:
    metrics = Metrics("notifications")
    consumer, store, dlq, handler = setup(metrics, handles=("ActionStatusChanged",))
    forged = example("ActionStatusChanged", source="equipment")  # a type the actions topic carries
    assert await consumer.handle(at(3, forged, topic=ACTIONS)) == "dead-lettered"
    assert handler.calls == 0, "the handler never saw it"
    assert store.inbox == set()
    [headers] = dlq.sent
    assert headers["x-dlq-reason"] == "wrong-producer"
    assert headers["x-dlq-error"] == "source 'equipment' is not the producer of passerelle.actions.v1 ('actions')"
    assert headers["x-dlq-attempts"] == "0"
    assert store.dead_letters[("indicators", (ACTIONS, 0, 3))][1:] == ("wrong-producer", event_id(forged))
    dead_letters = {"topic": ACTIONS, "reason": "wrong-producer"}
    assert metrics.registry.get_sample_value("passerelle_dead_letters_total", dead_letters) == 1


@pytest.mark.parametrize(
    "handles", [pytest.param((), id="no-handler"), pytest.param(("GrantAwarded",), id="a-handler-for-it")]
)
async def test_an_event_type_the_topic_does_not_carry_is_dead_lettered_even_without_a_handler(
    handles: tuple[str, ...],
) -> None:
    """Funding's own event, as funding writes it, but on the actions topic."""
    consumer, store, dlq, handler = setup(handles=handles)
    assert await consumer.handle(at(0, example("GrantAwarded"), topic=ACTIONS)) == "dead-lettered"
    assert handler.calls == 0
    assert store.inbox == set()
    [headers] = dlq.sent
    assert headers["x-dlq-reason"] == "wrong-producer"
    assert headers["x-dlq-error"] == (
        "source 'funding' is not the producer of passerelle.actions.v1 ('actions');"
        " event type GrantAwarded is not carried by passerelle.actions.v1 (it is passerelle.funding.v1's)"
    )


async def test_an_event_type_the_topic_does_not_carry_is_dead_lettered_even_in_its_producers_name() -> None:
    consumer, _, dlq, handler = setup(handles=("GrantAwarded",))
    forged = example("GrantAwarded", source="actions")
    assert await consumer.handle(at(0, forged, topic=ACTIONS)) == "dead-lettered"
    assert handler.calls == 0
    [headers] = dlq.sent
    assert headers["x-dlq-reason"] == "wrong-producer"
    assert headers["x-dlq-error"] == (
        "event type GrantAwarded is not carried by passerelle.actions.v1 (it is passerelle.funding.v1's)"
    )


async def test_a_type_no_topic_carries_yet_from_the_topics_producer_is_ignored_not_taken_for_a_forgery() -> None:
    """A producer upgraded first may write a new event type before its consumers know it (a
    rolling upgrade): that is not a forgery, and a consumer without a handler for it ignores it."""
    consumer, _, dlq, handler = setup()
    newer = json.dumps(json.loads(example("ActionStatusChanged")) | {"event_type": "ActionArchived"}).encode()
    assert await consumer.handle(at(0, newer, topic=ACTIONS)) == "ignored"
    assert handler.calls == 0
    assert dlq.sent == []


async def test_the_check_maps_prefixed_topics_back_to_the_registry() -> None:
    consumer, _, dlq, handler = setup(topic_prefix="t1234.")
    forged = at(0, example("DevicesDelivered", source="actions"), topic="t1234." + EQUIPMENT)
    assert await consumer.handle(forged) == "dead-lettered"
    assert handler.calls == 0
    [headers] = dlq.sent
    assert headers["x-dlq-reason"] == "wrong-producer"
    assert headers["x-dlq-error"] == "source 'actions' is not the producer of passerelle.equipment.v1 ('equipment')"
    assert headers["x-dlq-original-topic"] == "t1234." + EQUIPMENT


async def test_on_the_broker_a_forged_event_is_dead_lettered_and_the_next_genuine_one_applied() -> None:
    applied: list[Envelope] = []

    async def handler(uow: Any, envelope: Envelope, data: Any) -> None:
        applied.append(envelope)

    h = Harness(handler)  # topics prefixed with "t.", as a deployment's
    async with TestKafkaBroker(h.broker, connect_only=False) as broker:
        await broker.publish(delivery(source="actions"), "t." + EQUIPMENT)
        await broker.publish(delivery(), "t." + EQUIPMENT)
    assert [e.source for e in applied] == ["equipment"], "only the genuine one"
    [(_, headers)] = h.dead
    assert headers["x-dlq-reason"] == "wrong-producer"
    assert headers["x-dlq-original-topic"] == "t." + EQUIPMENT


async def test_a_genuine_event_is_still_applied() -> None:
    consumer, store, dlq, handler = setup(topic_prefix="t1234.")
    handler.broken = False
    assert await consumer.handle(at(0, example("DevicesDelivered"), topic="t1234." + EQUIPMENT)) == "processed"
    assert handler.calls == 1
    assert len(store.inbox) == 1
    assert dlq.sent == []


async def test_a_type_the_topic_carries_is_still_ignored_by_a_consumer_without_its_handler() -> None:
    consumer, _, dlq, handler = setup()
    assert await consumer.handle(at(0, example("BatchDeclared"))) == "ignored"
    assert handler.calls == 0
    assert dlq.sent == []


GENUINE = [
    pytest.param(spec.name, event_type, id=event_type)
    for spec in TOPICS
    for event_type in spec.event_types
    if (EXAMPLES / f"{event_type}.v1.json").exists()
]


@pytest.mark.parametrize(("topic", "event_type"), GENUINE)
async def test_every_example_of_the_contracts_passes_the_check_on_its_topic(topic: str, event_type: str) -> None:
    consumer, _, dlq, _ = setup(handles=())
    assert await consumer.handle(at(0, example(event_type), topic=topic)) == "ignored"
    assert dlq.sent == []


async def test_a_topic_outside_the_registry_is_not_checked() -> None:
    consumer, _, dlq, handler = setup()
    handler.broken = False
    assert await consumer.handle(at(0, example("DevicesDelivered", source="actions"), topic="t")) == "processed"
    assert dlq.sent == []


async def test_a_forged_record_delivered_again_is_not_dead_lettered_twice() -> None:
    consumer, _, dlq, handler = setup()
    batch = [at(5, example("DevicesDelivered", source="actions"))]
    assert await consumer.handle_batch(batch) == ["dead-lettered"]
    assert await consumer.handle_batch(batch) == ["dead-lettered-before"]
    assert len(dlq.sent) == 1
    assert handler.calls == 0


def test_the_runtime_checks_its_deployments_topics_and_counts_wrong_producers_from_zero() -> None:
    settings = ServiceSettings(
        service_name="test", database_url="postgresql://unused", http_port=0, topic_prefix="t1234."
    )
    runtime = Runtime(settings, migrations=Path("."), relay=False)  # built, not started
    consumer = runtime.consume("indicators", [EQUIPMENT], {})
    forged = Envelope.model_validate_json(example("DevicesDelivered", source="actions"))
    assert consumer.not_from_producer("t1234." + EQUIPMENT, forged) == (
        "source 'actions' is not the producer of passerelle.equipment.v1 ('equipment')"
    )
    dead_letters = {"topic": "t1234." + EQUIPMENT, "reason": "wrong-producer"}
    assert runtime.metrics.registry.get_sample_value("passerelle_dead_letters_total", dead_letters) == 0
