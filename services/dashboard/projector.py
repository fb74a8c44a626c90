"""Every event, into the feed and the read models, in one transaction with the inbox row.

One consumer group (``projector``) reads every domain topic and the notifications topic. Each
event is written to ``feed_events`` (the live feed and the audit trail of its flow), applied by
the projections of its type (``read_models``), and announced with ``pg_notify`` in the same
transaction: PostgreSQL delivers a notification only when its transaction commits, so a browser
is told of an event only once the figures that show it are there to be read, and never of one
that was rolled back (``live.py`` listens).

Why one group for everything rather than one per read model: the pages show figures of several
topics side by side, and the live feed's order is the order of application; one group keeps one
lag to watch. A projection that fails dead-letters its event like any consumer's (the reason on
the System page); the feed row goes with it, since the whole transaction rolls back.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from passerelle_contracts import Envelope, actions_v1, equipment_v1, funding_v1, notifications_v1
from passerelle_contracts.envelope import EventData

from services.runtime.db import Executor
from services.runtime.uow import UnitOfWork

from .batching import TableBatches
from .read_models import Projections, merged
from .read_models import equipment as equipment_model
from .read_models import funding as funding_model
from .read_models import plan as plan_model

CONSUMER = "projector"
TOPICS = (actions_v1.TOPIC, equipment_v1.TOPIC, funding_v1.TOPIC, notifications_v1.TOPIC)
EVENT_TYPES: tuple[str, ...] = tuple(
    model.event_type for module in (actions_v1, equipment_v1, funding_v1, notifications_v1) for model in module.EVENTS
)
CHANNEL = "dashboard_feed"  # pg_notify's channel: the new row's position
# pg_advisory_xact_lock's key: one feed insert at a time until its transaction ends, so that the
# positions (a sequence, taken at insert) commit in their order even with several replicas; a
# stream that has sent position N has then missed nothing below it (``web.live``).
FEED_LOCK = 7_231_201

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
PROJECTIONS: Projections = merged(plan_model.PROJECTIONS, equipment_model.PROJECTIONS, funding_model.PROJECTIONS)
# Every table a projection writes: what a rebuild empties (the sessions and the API keys stay).
TABLES: tuple[str, ...] = ("feed_events", *plan_model.TABLES, *equipment_model.TABLES, *funding_model.TABLES)

# The fields that name organisations (codes), for the feed's organisation filter.
ORGANISATION_FIELDS = (
    "lead",
    "partners",
    "donor",
    "recipient",
    "from_organisation",
    "to_organisation",
    "returned_to",
    "recycler",
    "holder",
    "beneficiary",
    "applicant",
    "operator",
    "epn",
    "organisation",
    "partner",
    "attendees",
    "invited",
    "absent",
)


_ORGANISATION_FIELDS = frozenset(ORGANISATION_FIELDS)


def organisations(envelope: Envelope) -> list[str]:
    """The organisations an event names: its actor's and those of its organisation fields."""
    found = {envelope.actor.organisation}
    data = envelope.data
    for name in _ORGANISATION_FIELDS.intersection(data):  # most events name one or two
        value: Any = data[name]
        values: Iterable[Any] = value if isinstance(value, list) else (value,)
        found.update(v for v in values if isinstance(v, str) and v)
    return sorted(found)


FEED_INSERT = """INSERT INTO feed_events (event_id, topic, event_type, source, subject, occurred_at, correlation_id,
                                        causation_id, actor, organisations, action_number, data)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
                 ON CONFLICT (event_id) DO NOTHING"""


def feed_row(envelope: Envelope, topic: str) -> tuple[Any, ...]:
    """An event's row of ``feed_events``, as ``FEED_INSERT`` takes it."""
    return (
        envelope.event_id,
        topic,
        envelope.event_type,
        envelope.source,
        envelope.subject,
        envelope.occurred_at,
        envelope.correlation_id,
        envelope.causation_id,
        envelope.actor.organisation,
        organisations(envelope),
        _action_number(envelope),
        envelope.data,
    )


async def project(db: Executor, envelope: Envelope, data: Any, topic: str, *, live: bool = True) -> int | None:
    """Apply one event: its feed row, its projections, its notification. Returns the feed position,
    None when the event was there already (a rebuild over a live table, a replayed record).
    ``live=False`` (a rebuild: one transaction, no browser to tell) takes neither the feed's lock
    nor sends the notification."""
    if live:
        await db.execute("SELECT pg_advisory_xact_lock($1)", FEED_LOCK)
    position: int | None = await db.fetchval(FEED_INSERT + " RETURNING position", *feed_row(envelope, topic))
    if position is None:
        return None
    for projection in PROJECTIONS.get(envelope.event_type, ()):
        await projection(db, envelope, data)
    if live:
        await db.execute("SELECT pg_notify($1, $2)", CHANNEL, str(position))
    return position


async def project_new(conn: Executor, events: Sequence[tuple[Envelope, Any, str]]) -> None:
    """``project`` with ``live=False`` for events new to the feed, in their order: the feed rows
    with one statement, the projections' writes queued per table (``batching``). For a rebuild,
    whose tables start empty and whose inbox drops a duplicate before it gets here: each event's
    feed row is new, so every event is projected (``project`` would skip one whose row was
    there)."""
    await conn.executemany(FEED_INSERT, [feed_row(envelope, topic) for envelope, _, topic in events])
    queued = TableBatches(conn)
    for envelope, data, _ in events:
        for projection in PROJECTIONS.get(envelope.event_type, ()):
            await projection(queued, envelope, data)
    await queued.flush()


def _action_number(envelope: Envelope) -> int | None:
    value = envelope.data.get("action_number")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


class Projector:
    """The consumer's handler for every event type: ``project`` in the consumer's unit of work (whose
    repository is the transaction's connection itself: ``app.create_runtime``)."""

    async def __call__(self, uow: UnitOfWork[Executor], envelope: Envelope, data: EventData) -> None:
        # The topic is the registry's name of the event's type (the record's carries the prefix).
        async with uow:
            await project(uow.repo, envelope, data, data.topic)
