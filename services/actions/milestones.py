"""Milestones: planned and actual dates; an overdue milestone is announced once."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import asyncpg
from passerelle_contracts import Actor, Envelope

from services.runtime.errors import Conflict, NotFound

from . import domain, events
from .handlers import emit, locked_action, refresh_milestone_progress

COLUMNS = "id, action_number, title_fr, title_nl, planned_on, reached_on, overdue_announced_on, created_at, updated_at"


async def list_milestones(conn: asyncpg.Connection | asyncpg.Pool, number: int | None = None) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"SELECT {COLUMNS} FROM milestones WHERE ($1::int IS NULL OR action_number = $1) ORDER BY planned_on, id", number
    )


async def plan_milestone(
    pool: asyncpg.Pool, topic: str, number: int, title_fr: str, title_nl: str, planned_on: date, actor: Actor,
    correlation_id: uuid.UUID, milestone_id: uuid.UUID | None = None,
) -> dict[str, Any]:
    """Plan a new milestone, or re-plan one (new title or date; an overdue flag is cleared)."""
    async with pool.acquire() as conn, conn.transaction():
        state = await locked_action(conn, number)
        domain.authorise_update(actor.role, actor.organisation, state)
        old: dict[str, Any] = {}
        if milestone_id is not None:
            row = await conn.fetchrow(f"SELECT {COLUMNS} FROM milestones WHERE id = $1 AND action_number = $2", milestone_id, number)
            if row is None:
                raise NotFound(f"no milestone {milestone_id} on action {number}")
            if row["reached_on"] is not None:
                raise Conflict(f"milestone {milestone_id} was reached on {row['reached_on']}; it cannot be re-planned")
            old = dict(row)
        new_values = {"title_fr": title_fr, "title_nl": title_nl, "planned_on": planned_on}
        diff = events.changes(old, new_values)
        if not diff:
            return old
        milestone_id = milestone_id or uuid.uuid4()
        row = await conn.fetchrow(
            f"""INSERT INTO milestones (id, action_number, title_fr, title_nl, planned_on) VALUES ($1, $2, $3, $4, $5)
                ON CONFLICT (id) DO UPDATE SET title_fr = EXCLUDED.title_fr, title_nl = EXCLUDED.title_nl,
                    planned_on = EXCLUDED.planned_on, overdue_announced_on = NULL, updated_at = now()
                RETURNING {COLUMNS}""",
            milestone_id, number, title_fr, title_nl, planned_on,
        )
        milestone = dict(row)  # type: ignore[arg-type]
        envelope = events.milestone_planned(milestone, diff, actor, correlation_id)
        await emit(conn, topic, envelope)
        await refresh_milestone_progress(conn, topic, number, actor, correlation_id, causation_id=envelope.event_id)
    return milestone


async def reach_milestone(
    pool: asyncpg.Pool, topic: str, number: int, milestone_id: uuid.UUID, reached_on: date, actor: Actor,
    correlation_id: uuid.UUID,
) -> dict[str, Any]:
    async with pool.acquire() as conn, conn.transaction():
        state = await locked_action(conn, number)
        domain.authorise_update(actor.role, actor.organisation, state)
        row = await conn.fetchrow(
            f"UPDATE milestones SET reached_on = $3, updated_at = now() WHERE id = $1 AND action_number = $2 "
            f"AND reached_on IS NULL RETURNING {COLUMNS}",
            milestone_id, number, reached_on,
        )
        if row is None:
            exists = await conn.fetchval("SELECT reached_on FROM milestones WHERE id = $1 AND action_number = $2", milestone_id, number)
            if exists is None:
                raise NotFound(f"no milestone {milestone_id} on action {number}")
            raise Conflict(f"milestone {milestone_id} was already reached on {exists}")
        milestone = dict(row)
        envelope = events.milestone_reached(milestone, actor, correlation_id)
        await emit(conn, topic, envelope)
        await refresh_milestone_progress(conn, topic, number, actor, correlation_id, causation_id=envelope.event_id)
    return milestone


async def announce_overdue(pool: asyncpg.Pool, topic: str, as_of: date) -> list[Envelope]:
    """Announce every milestone past its date and not reached, once: the scheduled check.

    Safe to run concurrently and repeatedly: rows are claimed with SKIP LOCKED and flagged in the
    same transaction as their event.
    """
    correlation_id = uuid.uuid4()
    async with pool.acquire() as conn, conn.transaction():
        rows = await conn.fetch(
            f"""UPDATE milestones SET overdue_announced_on = $1
                WHERE id IN (SELECT id FROM milestones
                             WHERE reached_on IS NULL AND overdue_announced_on IS NULL AND planned_on < $1
                             ORDER BY action_number, planned_on FOR UPDATE SKIP LOCKED)
                RETURNING {COLUMNS}""",
            as_of,
        )
        envelopes = [events.milestone_overdue(dict(r), as_of, correlation_id) for r in rows]
        for envelope in envelopes:
            await emit(conn, topic, envelope)
    return envelopes
