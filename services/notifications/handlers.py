"""Use cases of the notifications service."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import asyncpg
from passerelle_contracts import Envelope

from . import repository
from .templates import ADDRESSED_TO, Message, render

SEED = Path(__file__).resolve().parent / "seed" / "partners.json"


async def load_partners(pool: asyncpg.Pool, doc: dict[str, Any]) -> int:
    """Seed partners on first start only: later, partners are managed over HTTP."""
    async with pool.acquire() as conn, conn.transaction():
        if await conn.fetchval("SELECT EXISTS (SELECT 1 FROM partners)"):
            return 0
        for p in doc["partners"]:
            await repository.upsert_partner(conn, p)
            await repository.set_subscriptions(conn, p["code"], p["subscriptions"])
    return len(doc["partners"])


def read_seed() -> dict[str, Any]:
    return json.loads(SEED.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


async def notify_subscribers(conn: asyncpg.Connection, envelope: Envelope) -> int:
    """Render one e-mail per subscribed partner, in the partner's language, to be sent by the mailer.

    Runs in the consumer's transaction with its inbox row; returns how many were queued.
    """
    rows = []
    rendered: dict[str, Message] = {}  # one rendering per language, not per partner
    addressee = envelope.data.get(ADDRESSED_TO[envelope.event_type]) if envelope.event_type in ADDRESSED_TO else None
    for sub in await repository.subscribers(conn, envelope.event_type):
        if envelope.event_type in ADDRESSED_TO and sub["code"] != addressee:
            continue
        if sub["language"] not in rendered:
            rendered[sub["language"]] = render(envelope, sub["language"])
        message = rendered[sub["language"]]
        rows.append(
            (sub["code"], envelope.event_id, envelope.event_type, envelope.correlation_id, sub["email"], sub["language"],
             message.subject, message.body)
        )
    await repository.add_deliveries(conn, rows)
    return len(rows)
