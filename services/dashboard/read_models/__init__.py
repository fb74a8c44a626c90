"""The dashboard's read models: for each event type, the projections that apply it.

A projection is ``async def (db, envelope, data) -> None`` on the transaction's connection. Every
projection is written so that applying an event again changes nothing (an upsert of the latest
word, or a row keyed by the event id): the consumer's inbox already drops a redelivered event, and
a rebuild (``rebuild.py``) re-applies everything from the topics into empty tables.

A projection keeps what the page needs and no more: organisations (codes), counts, amounts and
dates. The events carry no person's name (the contracts' rule), and the free text some carry (a
status note, a report's comment) stays in ``feed_events`` where only an operator sees it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from passerelle_contracts import Envelope

from services.runtime.db import Executor

Projection = Callable[[Executor, Envelope, Any], Awaitable[None]]
Projections = Mapping[str, tuple[Projection, ...]]


def merged(*tables: Projections) -> dict[str, tuple[Projection, ...]]:
    """One table of projections by event type from several (a type may feed several models)."""
    out: dict[str, tuple[Projection, ...]] = {}
    for table in tables:
        for event_type, projections in table.items():
            out[event_type] = out.get(event_type, ()) + tuple(projections)
    return out
