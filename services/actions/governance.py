"""Governance: Working Group and COPIL meetings, their decisions as outcomes on actions, and
"what changed since" for members preparing a meeting."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import asyncpg
from passerelle_contracts import Actor

from services.runtime.errors import Forbidden, Invalid
from services.runtime.outbox import enqueue

from . import events, repository
from .handlers import RecordDerivedMeasurements, emit, locked_action, record_derived_measurements


@dataclass(frozen=True)
class RecordMeeting:
    kind: str
    held_on: date
    attendees: list[str]
    agenda: list[dict[str, Any]]  # {"action_number": int | None, "title": str}
    decisions: list[tuple[int, str]]  # (action number, decision)


async def record_meeting(
    pool: asyncpg.Pool, topic: str, command: RecordMeeting, actor: Actor, correlation_id: uuid.UUID
) -> dict[str, Any]:
    """Record a meeting held, its decisions on actions, and count it for action 21 (data-driven)."""
    if actor.role != "coordination":
        raise Forbidden(f"only the Coordination records meetings, not {actor.organisation} ({actor.role})")
    async with pool.acquire() as conn, conn.transaction():
        unknown = await repository.organisations_exist(conn, command.attendees)
        if unknown:
            raise Invalid(f"unknown organisations among the attendees: {', '.join(unknown)}")
        for number in sorted({n for n, _ in command.decisions}):
            await locked_action(conn, number)
        meeting = dict(
            await conn.fetchrow(  # type: ignore[arg-type]
                """INSERT INTO meetings (id, kind, held_on, attendees, agenda, recorded_by) VALUES ($1, $2, $3, $4, $5, $6)
                   RETURNING id, kind, held_on, attendees, agenda, recorded_at""",
                uuid.uuid4(), command.kind, command.held_on, sorted(set(command.attendees)), command.agenda,
                actor.model_dump(mode="json"),
            )
        )
        held = events.meeting_held(meeting, actor, correlation_id)
        await enqueue(conn, topic, held)
        for number, decision in command.decisions:
            await conn.execute(
                "INSERT INTO decisions (id, meeting_id, action_number, decision) VALUES ($1, $2, $3, $4)",
                uuid.uuid4(), meeting["id"], number, decision,
            )
            await emit(conn, topic, events.decision_recorded(meeting, number, decision, actor, held))
        await record_derived_measurements(conn, topic, RecordDerivedMeasurements(held, held.data, command.held_on))
    meeting["decisions"] = [{"action_number": n, "decision": d} for n, d in command.decisions]
    return meeting


async def list_meetings(conn: asyncpg.Connection | asyncpg.Pool, year: int | None) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        """SELECT m.id, m.kind, m.held_on, m.attendees, m.agenda, m.recorded_at,
                  coalesce(jsonb_agg(jsonb_build_object('action_number', d.action_number, 'decision', d.decision)
                                     ORDER BY d.recorded_at) FILTER (WHERE d.id IS NOT NULL), '[]') AS decisions
           FROM meetings m LEFT JOIN decisions d ON d.meeting_id = m.id
           WHERE ($1::int IS NULL OR extract(year FROM m.held_on) = $1)
           GROUP BY m.id ORDER BY m.held_on, m.recorded_at""",
        year,
    )
    return [dict(r) for r in rows]


async def changes_since(
    conn: asyncpg.Connection | asyncpg.Pool, since: datetime, until: datetime | None = None
) -> list[dict[str, Any]]:
    """Every change to any action since a moment, grouped by action, from the event history."""
    rows = await conn.fetch(
        """SELECT h.action_number, a.title_fr, a.title_nl, h.event_id, h.event_type, h.changes, h.actor, h.occurred_at
           FROM action_history h JOIN actions a ON a.number = h.action_number
           WHERE h.occurred_at >= $1 AND ($2::timestamptz IS NULL OR h.occurred_at < $2)
           ORDER BY h.action_number, h.occurred_at, h.id""",
        since, until,
    )
    grouped: dict[int, dict[str, Any]] = {}
    for r in rows:
        entry = grouped.setdefault(
            r["action_number"], {"action_number": r["action_number"], "title_fr": r["title_fr"], "title_nl": r["title_nl"], "changes": []}
        )
        entry["changes"].append(
            {k: r[k] for k in ("event_id", "event_type", "changes", "actor", "occurred_at")}
        )
    return list(grouped.values())
