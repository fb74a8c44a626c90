"""Use cases of the equipment service."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
from passerelle_contracts import Actor, Envelope
from passerelle_contracts.equipment_v1 import DevicesDelivered

from services.runtime.outbox import enqueue

SOURCE = "equipment"


async def record_delivery(
    pool: asyncpg.Pool,
    topic: str,
    delivery: DevicesDelivered,
    actor: Actor,
    correlation_id: uuid.UUID,
    idempotency_key: str | None,
) -> tuple[dict[str, Any], bool]:
    """Record a delivery and announce it, in one transaction. Returns (delivery, created).

    A repeated request with the same Idempotency-Key returns the first delivery unchanged.
    """
    async with pool.acquire() as conn, conn.transaction():
        inserted = await conn.fetchrow(
            """INSERT INTO deliveries (delivery_id, idempotency_key, recipient, recipient_kind, donor, donor_kind, devices,
                   total_devices, public, beneficiaries, commune, delivered_on, recorded_by)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
               ON CONFLICT (idempotency_key) DO NOTHING RETURNING *""",
            uuid.UUID(delivery.delivery_id),
            idempotency_key,
            delivery.recipient,
            delivery.recipient_kind,
            delivery.donor,
            delivery.donor_kind,
            delivery.devices,
            delivery.total_devices,
            delivery.public,
            delivery.beneficiaries,
            delivery.commune,
            delivery.delivered_on,
            actor.model_dump(mode="json"),
        )
        if inserted is None:
            existing = await conn.fetchrow("SELECT * FROM deliveries WHERE idempotency_key = $1", idempotency_key)
            return dict(existing), False  # type: ignore[arg-type]
        envelope = Envelope.wrap(
            delivery, source=SOURCE, subject=f"delivery-{delivery.delivery_id}", actor=actor, correlation_id=correlation_id
        )
        await enqueue(conn, topic, envelope)
    return dict(inserted), True
