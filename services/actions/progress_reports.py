"""Progress reports per action and period: draft -> submitted -> approved, or returned with a comment."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
from passerelle_contracts import Actor

from services.runtime.errors import Conflict, NotFound

from . import domain, events
from .handlers import emit, locked_action

COLUMNS = "id, action_number, period, status, body, comment, created_by, created_at, updated_at"


async def list_reports(conn: asyncpg.Connection | asyncpg.Pool, number: int | None, status: str | None) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"""SELECT {COLUMNS} FROM progress_reports WHERE ($1::int IS NULL OR action_number = $1)
            AND ($2::text IS NULL OR status = $2) ORDER BY action_number, period""",
        number, status,
    )


async def write_report(pool: asyncpg.Pool, number: int, period: str, body: str, actor: Actor) -> dict[str, Any]:
    """Create the action's report for a period, or edit it while it is a draft or returned."""
    async with pool.acquire() as conn, conn.transaction():
        state = await locked_action(conn, number)
        domain.authorise_update(actor.role, actor.organisation, state)
        row = await conn.fetchrow(f"SELECT {COLUMNS} FROM progress_reports WHERE action_number = $1 AND period = $2", number, period)
        if row is not None and row["status"] not in domain.REPORT_EDITABLE:
            raise Conflict(f"the {period} report of action {number} is {row['status']} and can no longer be edited")
        row = await conn.fetchrow(
            f"""INSERT INTO progress_reports (id, action_number, period, body, created_by) VALUES ($1, $2, $3, $4, $5)
                ON CONFLICT (action_number, period) DO UPDATE SET body = EXCLUDED.body, updated_at = now()
                RETURNING {COLUMNS}""",
            uuid.uuid4(), number, period, body, actor.model_dump(mode="json"),
        )
    return dict(row)  # type: ignore[arg-type]


async def move_report(
    pool: asyncpg.Pool, topic: str, report_id: uuid.UUID, verb: str, comment: str, actor: Actor, correlation_id: uuid.UUID
) -> dict[str, Any]:
    """submit (owner), approve or return (Coordination, return needs a comment)."""
    async with pool.acquire() as conn, conn.transaction():
        number = await conn.fetchval("SELECT action_number FROM progress_reports WHERE id = $1", report_id)
        if number is None:
            raise NotFound(f"no report {report_id}")
        state = await locked_action(conn, number)
        row = await conn.fetchrow(f"SELECT {COLUMNS} FROM progress_reports WHERE id = $1 FOR UPDATE", report_id)
        domain.authorise_report(verb, actor.role, actor.organisation, state)
        new_status = domain.report_transition(str(report_id), row["status"], verb)
        if verb == "return" and not comment.strip():
            raise Conflict("a returned report needs a comment saying what to change")
        updated = await conn.fetchrow(
            f"UPDATE progress_reports SET status = $2, comment = $3, updated_at = now() WHERE id = $1 RETURNING {COLUMNS}",
            report_id, new_status, comment if verb == "return" else row["comment"],
        )
        report = dict(updated)  # type: ignore[arg-type]
        await emit(conn, topic, events.report_changed(report, row["status"], actor, correlation_id))
    return report
