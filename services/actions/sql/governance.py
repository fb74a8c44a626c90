"""Working Group and COPIL meetings and their decisions."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from .base import Queries, Row


class GovernanceQueries(Queries):
    async def insert_meeting(
        self,
        kind: str,
        held_on: date,
        attendees: list[str],
        agenda: list[dict[str, Any]],
        recorded_by: dict[str, Any],
    ) -> Row:
        row = await self.db.fetchrow(
            """INSERT INTO meetings (id, kind, held_on, attendees, agenda, recorded_by)
               VALUES ($1, $2, $3, $4, $5, $6)
               RETURNING id, kind, held_on, attendees, agenda, recorded_at""",
            uuid.uuid4(),
            kind,
            held_on,
            attendees,
            agenda,
            recorded_by,
        )
        assert row is not None  # an insert returns its row
        return dict(row)

    async def insert_decision(self, meeting_id: uuid.UUID, number: int, decision: str) -> None:
        await self.db.execute(
            "INSERT INTO decisions (id, meeting_id, action_number, decision) VALUES ($1, $2, $3, $4)",
            uuid.uuid4(),
            meeting_id,
            number,
            decision,
        )

    async def meetings(self, year: int | None = None) -> list[Row]:
        """Meetings (of one calendar year) by date, each with its decisions."""
        rows = await self.db.fetch(
            """SELECT m.id, m.kind, m.held_on, m.attendees, m.agenda, m.recorded_at,
                      coalesce(jsonb_agg(jsonb_build_object('action_number', d.action_number, 'decision', d.decision)
                                         ORDER BY d.recorded_at) FILTER (WHERE d.id IS NOT NULL), '[]') AS decisions
               FROM meetings m LEFT JOIN decisions d ON d.meeting_id = m.id
               WHERE ($1::int IS NULL OR extract(year FROM m.held_on) = $1)
               GROUP BY m.id ORDER BY m.held_on, m.recorded_at""",
            year,
        )
        return [dict(r) for r in rows]
