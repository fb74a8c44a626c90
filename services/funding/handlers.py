"""Use cases of the funding service."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
from passerelle_contracts import Actor, Envelope
from passerelle_contracts.funding_v1 import EpnLabelled, GrantAwarded

from services.runtime.outbox import enqueue

SOURCE = "funding"


async def award_grant(
    pool: asyncpg.Pool, topic: str, grant: GrantAwarded, actor: Actor, correlation_id: uuid.UUID, idempotency_key: str | None
) -> tuple[dict[str, Any], bool]:
    """Record a grant and announce it, in one transaction. Returns (grant, created)."""
    async with pool.acquire() as conn, conn.transaction():
        inserted = await conn.fetchrow(
            """INSERT INTO grants (grant_id, idempotency_key, call_code, call_kind, beneficiary, beneficiary_kind, public,
                   amount_eur, awarded_on, recorded_by)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
               ON CONFLICT (idempotency_key) DO NOTHING RETURNING *""",
            uuid.UUID(grant.grant_id),
            idempotency_key,
            grant.call_code,
            grant.call_kind,
            grant.beneficiary,
            grant.beneficiary_kind,
            grant.public,
            grant.amount_eur,
            grant.awarded_on,
            actor.model_dump(mode="json"),
        )
        if inserted is None:
            existing = await conn.fetchrow("SELECT * FROM grants WHERE idempotency_key = $1", idempotency_key)
            return dict(existing), False  # type: ignore[arg-type]
        envelope = Envelope.wrap(grant, source=SOURCE, subject=f"grant-{grant.grant_id}", actor=actor, correlation_id=correlation_id)
        await enqueue(conn, topic, envelope)
    return dict(inserted), True


async def label_epn(
    pool: asyncpg.Pool, topic: str, label: EpnLabelled, actor: Actor, correlation_id: uuid.UUID
) -> tuple[dict[str, Any], bool]:
    """Record that an EPN was labelled, once per EPN. Returns (label, created)."""
    async with pool.acquire() as conn, conn.transaction():
        inserted = await conn.fetchrow(
            """INSERT INTO epn_labels (epn, commune, labelled_on, recorded_by) VALUES ($1, $2, $3, $4)
               ON CONFLICT (epn) DO NOTHING RETURNING *""",
            label.epn, label.commune, label.labelled_on, actor.model_dump(mode="json"),
        )
        if inserted is None:
            return dict(await conn.fetchrow("SELECT * FROM epn_labels WHERE epn = $1", label.epn)), False  # type: ignore[arg-type]
        envelope = Envelope.wrap(label, source=SOURCE, subject=f"epn-{label.epn}", actor=actor, correlation_id=correlation_id)
        await enqueue(conn, topic, envelope)
    return dict(inserted), True
