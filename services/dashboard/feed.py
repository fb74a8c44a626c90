"""The live feed and the audit trail: the events as they came, filtered, for one viewer.

An operator sees every event with its data. The partner view sees the events that name its
organisation on the topics partners read, as partners read them: the free text withheld
(``passerelle_contracts.partners.withheld``), never the notifications' delivery log.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from passerelle_contracts.partners import PROJECTED, withheld

from services.runtime.db import Executor

from .viewers import Viewer

COLUMNS = """position, event_id, topic, event_type, source, subject, occurred_at, received_at, correlation_id,
             causation_id, actor, organisations, action_number, data"""
MAX_FILTER_LENGTH = 100


@dataclass(frozen=True)
class Filters:
    topic: str | None = None
    event_type: str | None = None
    organisation: str | None = None
    action: int | None = None
    before: int | None = None  # a position: the page after (older than) it

    def as_query(self) -> dict[str, str]:
        values = {"topic": self.topic, "type": self.event_type, "organisation": self.organisation}
        out = {k: v for k, v in values.items() if v}
        if self.action is not None:
            out["action"] = str(self.action)
        return out


@dataclass(frozen=True)
class FeedEvent:
    position: int
    event_id: uuid.UUID
    topic: str
    event_type: str
    source: str
    subject: str
    occurred_at: datetime
    received_at: datetime
    correlation_id: uuid.UUID
    causation_id: uuid.UUID | None
    actor: str
    organisations: list[str]
    action_number: int | None
    data: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "position": self.position,
            "event_id": str(self.event_id),
            "topic": self.topic,
            "event_type": self.event_type,
            "source": self.source,
            "subject": self.subject,
            "occurred_at": self.occurred_at.isoformat(),
            "received_at": self.received_at.isoformat(),
            "correlation_id": str(self.correlation_id),
            "causation_id": str(self.causation_id) if self.causation_id else None,
            "actor": self.actor,
            "organisations": self.organisations,
            "action_number": self.action_number,
            "data": self.data,
        }


def _visible(viewer: Viewer, args: list[Any]) -> str:
    """The partner view's condition: an event that names the organisation, or is about an action it
    leads or is a partner of *now* (decided when read, so that a new partner sees the action's past
    and a former one stops seeing it), on a topic partners read."""
    if viewer.is_operator:
        return "TRUE"
    args.append(viewer.organisation)
    org = len(args)
    args.append(list(PROJECTED))
    return f"""((organisations @> ARRAY[${org}::text]
                OR action_number IN (SELECT number FROM plan_actions WHERE lead = ${org} OR ${org} = ANY(partners)))
               AND topic = ANY(${len(args)}::text[]))"""  # noqa: S608 - parameter numbers only


def _as_seen(viewer: Viewer, row: Any) -> FeedEvent:
    data = dict(row["data"])
    if not viewer.is_operator:
        for name in withheld(row["event_type"]):
            data.pop(name, None)
    return FeedEvent(**{**dict(row), "organisations": list(row["organisations"]), "data": data})


async def page(db: Executor, viewer: Viewer, filters: Filters, limit: int) -> list[FeedEvent]:
    """The newest events first, after ``filters.before`` if given."""
    args: list[Any] = []
    where = [_visible(viewer, args)]
    for column, value in (
        ("topic", filters.topic),
        ("event_type", filters.event_type),
        ("action_number", filters.action),
    ):
        if value is not None and value != "":
            args.append(value)
            where.append(f"{column} = ${len(args)}")
    if filters.organisation:
        args.append(filters.organisation)
        where.append(f"organisations @> ARRAY[${len(args)}::text]")
    if filters.before is not None:
        args.append(filters.before)
        where.append(f"position < ${len(args)}")
    args.append(limit)
    rows = await db.fetch(
        f"SELECT {COLUMNS} FROM feed_events WHERE {' AND '.join(where)} ORDER BY position DESC LIMIT ${len(args)}",  # noqa: S608 - this module's clauses; values are parameters
        *args,
    )
    return [_as_seen(viewer, row) for row in rows]


async def one(db: Executor, viewer: Viewer, position: int) -> FeedEvent | None:
    """The event at ``position``, if the viewer may see it."""
    args: list[Any] = [position]
    row = await db.fetchrow(
        f"SELECT {COLUMNS} FROM feed_events WHERE position = $1 AND {_visible(viewer, args)}",  # noqa: S608 - as above
        *args,
    )
    return None if row is None else _as_seen(viewer, row)


async def trail(db: Executor, viewer: Viewer, correlation_id: uuid.UUID, limit: int = 1000) -> list[FeedEvent]:
    """Every event of one flow across the services, in the order they happened."""
    args: list[Any] = [correlation_id]
    visible = _visible(viewer, args)
    args.append(limit)
    rows = await db.fetch(
        f"""SELECT {COLUMNS} FROM feed_events WHERE correlation_id = $1 AND {visible}
            ORDER BY occurred_at, position LIMIT ${len(args)}""",  # noqa: S608 - as above
        *args,
    )
    return [_as_seen(viewer, row) for row in rows]


async def after(db: Executor, viewer: Viewer, position: int, limit: int) -> list[FeedEvent]:
    """The events after ``position`` the viewer may see, oldest first (a stream catching up)."""
    args: list[Any] = [position]
    visible = _visible(viewer, args)
    args.append(limit)
    rows = await db.fetch(
        f"""SELECT {COLUMNS} FROM feed_events WHERE position > $1 AND {visible}
            ORDER BY position LIMIT ${len(args)}""",  # noqa: S608 - as above
        *args,
    )
    return [_as_seen(viewer, row) for row in rows]


async def latest(db: Executor) -> int:
    """The last position applied (0 when none)."""
    return int(await db.fetchval("SELECT coalesce(max(position), 0) FROM feed_events"))


def matches(event: FeedEvent, filters: Filters) -> bool:
    """Whether a live event belongs on a feed page with these filters."""
    return (
        (not filters.topic or event.topic == filters.topic)
        and (not filters.event_type or event.event_type == filters.event_type)
        and (filters.action is None or event.action_number == filters.action)
        and (not filters.organisation or filters.organisation in event.organisations)
    )
