"""Inbox: a consumer records each event it applied, in the same transaction as the effects.

A second delivery of the same event finds the row and is skipped: a conflict means "already done"
(the idempotent-consumer pattern; eventsourcing calls it tracking).
"""

from __future__ import annotations

import uuid

from .db import Executor


async def claim(
    conn: Executor, consumer: str, event_id: uuid.UUID, event_type: str, topic: str, partition: int, offset: int
) -> bool:
    """True if this consumer has not applied the event yet (and now owns it in this transaction)."""
    inserted = await conn.fetchval(
        """INSERT INTO inbox (consumer, event_id, event_type, topic, partition, "offset")
           VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING RETURNING true""",
        consumer,
        event_id,
        event_type,
        topic,
        partition,
        offset,
    )
    return bool(inserted)
