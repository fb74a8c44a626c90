"""Inbox: a consumer records each event it applied, in the same transaction as the effects.

A second delivery of the same event finds the row and is skipped: a conflict means "already done"
(the idempotent-consumer pattern; eventsourcing calls it tracking). A consumer applying a batch in
one transaction claims the batch's rows in one statement (``claim_many``): one round trip instead
of one per record, and the same rule.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

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


# One record to claim: (event id, event type, topic, partition, offset).
Claim = tuple[uuid.UUID, str, str, int, int]


async def claim_many(conn: Executor, consumer: str, claims: Sequence[Claim]) -> set[uuid.UUID]:
    """The event ids of ``claims`` this consumer had not applied yet (now owned by this
    transaction). An event id twice in ``claims`` (a record published twice, both copies in one
    batch) is claimed once: the caller applies its first record and counts the other a duplicate."""
    if not claims:
        return set()
    rows = await conn.fetch(
        """INSERT INTO inbox (consumer, event_id, event_type, topic, partition, "offset")
           SELECT $1, c.event_id, c.event_type, c.topic, c.partition, c."offset"
           FROM unnest($2::uuid[], $3::text[], $4::text[], $5::integer[], $6::bigint[])
                AS c (event_id, event_type, topic, partition, "offset")
           ON CONFLICT DO NOTHING RETURNING event_id""",
        consumer,
        [c[0] for c in claims],
        [c[1] for c in claims],
        [c[2] for c in claims],
        [c[3] for c in claims],
        [c[4] for c in claims],
    )
    return {r["event_id"] for r in rows}


async def release_many(conn: Executor, consumer: str, event_ids: Sequence[uuid.UUID]) -> None:
    """Give back rows claimed in this transaction for records it will not apply after all."""
    await conn.execute(
        "DELETE FROM inbox WHERE consumer = $1 AND event_id = ANY($2::uuid[])", consumer, list(event_ids)
    )
