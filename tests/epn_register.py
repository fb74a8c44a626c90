"""The funding register's events as the services that learn the EPNs from it receive them.

Equipment, actions and notifications each keep a consumer of the funding topic for the register's
``EpnRegistered``, ``EpnDetailsChanged`` and ``EpnLabelStatusChanged``; their unit and integration
tests told the same register's story three times over, each with its own copy of the events, of
the envelope the funding service's relay publishes, of a dead-letter topic and of a consumer fed
one record after another. One copy here keeps the three telling it alike: a field the contract
gains or renames is changed once, and what differs between the services (the consumer, its
handlers, its store) is what each suite passes in."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime
from types import SimpleNamespace
from typing import Any, TypeVar, cast

from passerelle_contracts import Actor, Envelope, EventData
from passerelle_contracts.common import FieldChange
from passerelle_contracts.funding_v1 import TOPIC, EpnDetailsChanged, EpnLabelStatusChanged, EpnRegistered

from services.runtime.consumer import DeadLetterLog, Handler, ReliableConsumer, RetryPolicy
from services.runtime.service import Runtime
from services.runtime.uow import Context, UnitOfWork
from tests.support import eventually, read_topic

EPN = "epn-ixelles"
FUNDING = Actor(organisation="coordination-inclusion-numerique", role="coordination", key_id="k-funding")
"""Whom the funding service's relay publishes the register's events as."""
FAST = RetryPolicy(max_attempts=2, backoff_initial_s=0.001, backoff_max_s=0.002)
"""A failing event is dead-lettered after a second attempt, without waiting."""
S = TypeVar("S", bound=DeadLetterLog)  # the store of a service's fakes, which notes dead letters too


# -- the register's events -----------------------------------------------------------------------
def registered(epn: str = EPN, **changes: Any) -> EpnRegistered:
    """The EPN d'Ixelles as the register announces it, a candidate (or with ``changes``)."""
    values: dict[str, Any] = {
        "epn": epn,
        "epn_name": "EPN d'Ixelles",
        "operator": "commune-ixelles",
        "commune": "Ixelles",
        "hours_per_week": "24.0",
        "computers": 10,
        "tablets": 4,
        "accessible": True,
        "label_status": "candidate",
    }
    return EpnRegistered.model_validate(values | changes)


def details_changed(epn: str = EPN, *, was: Mapping[str, Any] | None = None, **fields: Any) -> EpnDetailsChanged:
    """The register's change of the EPN's ``fields`` to their new values, in the order given; the
    values they replace are ``was``'s, none where it does not say."""
    old = was or {}
    return EpnDetailsChanged(epn=epn, changes=[FieldChange(field=f, old=old.get(f), new=v) for f, v in fields.items()])


def label_status_changed(epn: str = EPN, status: str = "withdrawn", **changes: Any) -> EpnLabelStatusChanged:
    """The register's decision to take the EPN's label from ``labelled`` to ``status`` (or with
    ``changes``: ``previous_status``, ``decided_on``, ``labelled_epns``, ``register_version``)."""
    values: dict[str, Any] = {"epn": epn, "commune": "Ixelles", "previous_status": "labelled", "status": status}
    values |= {"decided_on": "2024-04-01", "labelled_epns": 0, "register_version": 2}
    return EpnLabelStatusChanged.model_validate(values | changes)


def record(data: EventData, occurred_at: datetime | None = None) -> tuple[bytes, bytes]:
    """(key, value) as the funding service's relay publishes it: keyed by the EPN (a grant's events
    by the grant), happening now (or at ``occurred_at``)."""
    grant = getattr(data, "grant_id", None)
    subject = f"grant-{grant}" if grant is not None else f"epn-{getattr(data, 'epn')}"  # noqa: B009 - the others name their EPN
    envelope = Envelope.wrap(data, source="funding", subject=subject, actor=FUNDING)
    if occurred_at is not None:
        envelope = envelope.model_copy(update={"occurred_at": occurred_at})
    return subject.encode(), envelope.model_dump_json().encode()


# -- on the fakes: a service's consumers, and one of them fed a record at a time -----------------
def consumers_declared(register: Callable[[Runtime], None]) -> dict[str, tuple[list[str], dict[str, object]]]:
    """The consumers a service's ``subscribers.register`` declares on its runtime: by name, the
    topics each reads and its handler of each event type."""
    consumers: dict[str, tuple[list[str], dict[str, object]]] = {}

    class Recording:
        def consume(self, name: str, topics: list[str], handlers: dict[str, object]) -> None:
            consumers[name] = (list(topics), dict(handlers))

    register(cast(Runtime, Recording()))
    return consumers


class DeadLetterTopic:
    """The funding topic's dead-letter topic: what was sent to it, with its headers."""

    def __init__(self) -> None:
        self.sent: list[tuple[bytes, dict[str, str]]] = []

    async def publish(self, value: bytes, *, topic: str, key: bytes, headers: dict[str, str]) -> None:
        assert topic == TOPIC + ".dlq"
        self.sent.append((value, headers))


class FundingTopic:
    """The funding topic as one of a service's consumers reads it, one record after another: the
    consumer's name and handlers as the service registers them, each record handled in a unit of
    work the service's tests open on ``store``, which notes the dead letters too."""

    def __init__(
        self,
        consumer: str,
        handlers: Mapping[str, Handler],
        unit_of_work: Callable[[S, Context], UnitOfWork[Any]],
        store: S,
    ) -> None:
        self.dlq = DeadLetterTopic()
        self.offset = 0
        self.consumer = ReliableConsumer(
            consumer,
            handlers,
            unit_of_work=lambda context: unit_of_work(store, context),
            publish=self.dlq.publish,
            retry=FAST,
            dead_letters=store,
        )

    def envelope(self, data: EventData, occurred_at: datetime | None = None) -> bytes:
        return record(data, occurred_at)[1]

    async def deliver(self, value: bytes) -> str:
        """The consumer's outcome for ``value``, read at the topic's next position."""
        at = SimpleNamespace(topic=TOPIC, partition=0, offset=self.offset, key=b"k", value=value, headers=[])
        self.offset += 1
        return await self.consumer.handle(at)

    async def send(self, data: EventData, occurred_at: datetime | None = None) -> str:
        return await self.deliver(self.envelope(data, occurred_at))


# -- on the real broker ---------------------------------------------------------------------------
def registered_withdrawn_and_renamed() -> list[tuple[bytes, bytes]]:
    """The records of an EPN's history on the register, in order: its registration (the same record
    delivered twice), its label withdrawn, then a change of its name (to "Espace numérique d'Ixelles")
    and of its hours."""
    first = record(registered())
    withdrawn = label_status_changed(previous_status="candidate", register_version=1)
    renamed = details_changed(
        epn_name="Espace numérique d'Ixelles",
        hours_per_week="12.0",
        was={"epn_name": "EPN d'Ixelles", "hours_per_week": "24.0"},
    )
    return [first, first, record(withdrawn), record(renamed)]


def event_id(value: bytes) -> uuid.UUID:
    """The id of the event a record's value carries."""
    return uuid.UUID(json.loads(value)["event_id"])


async def dead_lettered(kafka_bootstrap: str, topic: str, value: bytes, *, what: str) -> dict[str, str]:
    """The headers of ``value``'s dead letter, once it is on ``topic``'s dead-letter topic (once)."""

    async def dead_letter() -> list[Any]:
        return [r for r in await read_topic(kafka_bootstrap, topic + ".dlq") if r.value == value]

    [dead] = await eventually(dead_letter, what=what)
    return {k: v.decode() for k, v in dead.headers}
