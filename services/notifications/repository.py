"""Plain SQL for the notifications service."""

from __future__ import annotations

from typing import Any

import asyncpg


async def upsert_partner(conn: asyncpg.Connection | asyncpg.Pool, p: dict[str, Any]) -> None:
    await conn.execute(
        """INSERT INTO partners (code, name, email, language, working_group, copil, active)
           VALUES ($1, $2, $3, $4, $5, $6, $7)
           ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, email = EXCLUDED.email, language = EXCLUDED.language,
               working_group = EXCLUDED.working_group, copil = EXCLUDED.copil, active = EXCLUDED.active, updated_at = now()""",
        p["code"],
        p["name"],
        p["email"],
        p["language"],
        p["working_group"],
        p["copil"],
        p.get("active", True),
    )


async def set_subscriptions(conn: asyncpg.Connection, partner: str, event_types: list[str]) -> None:
    await conn.execute("DELETE FROM subscriptions WHERE partner_code = $1", partner)
    await conn.executemany(
        "INSERT INTO subscriptions (partner_code, event_type) VALUES ($1, $2)", [(partner, t) for t in sorted(set(event_types))]
    )


async def partner(conn: asyncpg.Connection | asyncpg.Pool, code: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        """SELECT p.*, coalesce(array_agg(s.event_type ORDER BY s.event_type) FILTER (WHERE s.event_type IS NOT NULL), '{}')
                  AS subscriptions
           FROM partners p LEFT JOIN subscriptions s ON s.partner_code = p.code WHERE p.code = $1 GROUP BY p.code""",
        code,
    )


async def partners(conn: asyncpg.Connection | asyncpg.Pool) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT p.*, coalesce(array_agg(s.event_type ORDER BY s.event_type) FILTER (WHERE s.event_type IS NOT NULL), '{}')
                  AS subscriptions
           FROM partners p LEFT JOIN subscriptions s ON s.partner_code = p.code GROUP BY p.code ORDER BY p.code"""
    )


async def subscribers(conn: asyncpg.Connection, event_type: str) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT p.code, p.email, p.language FROM partners p JOIN subscriptions s ON s.partner_code = p.code
           WHERE s.event_type = $1 AND p.active ORDER BY p.code""",
        event_type,
    )


async def add_deliveries(conn: asyncpg.Connection, rows: list[tuple[Any, ...]]) -> None:
    await conn.executemany(
        """INSERT INTO deliveries (partner_code, event_id, event_type, correlation_id, email, language, subject, body)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (partner_code, event_id) DO NOTHING""",
        rows,
    )


async def deliveries(
    conn: asyncpg.Connection | asyncpg.Pool, partner: str | None, status: str | None, limit: int
) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT id, partner_code, event_id, event_type, correlation_id, email, language, subject, status, attempts,
                  last_error, created_at, sent_at
           FROM deliveries WHERE ($1::text IS NULL OR partner_code = $1) AND ($2::text IS NULL OR status = $2)
           ORDER BY id DESC LIMIT $3""",
        partner,
        status,
        limit,
    )
