"""Milestones: planned and actual dates, and the flag that announces an overdue one once."""

from __future__ import annotations

import uuid
from datetime import date

from .base import Queries, Row


class MilestoneQueries(Queries):
    async def milestones(self, number: int | None = None) -> list[Row]:
        rows = await self.db.fetch(
            """SELECT id, action_number, title_fr, title_nl, planned_on, reached_on, overdue_announced_on, created_at,
                      updated_at
               FROM milestones WHERE ($1::int IS NULL OR action_number = $1) ORDER BY planned_on, id""",
            number,
        )
        return [dict(r) for r in rows]

    async def get_milestone(self, milestone_id: uuid.UUID, number: int) -> Row | None:
        row = await self.db.fetchrow(
            """SELECT id, action_number, title_fr, title_nl, planned_on, reached_on, overdue_announced_on, created_at,
                      updated_at
               FROM milestones WHERE id = $1 AND action_number = $2""",
            milestone_id,
            number,
        )
        return None if row is None else dict(row)

    async def save_milestone(
        self, milestone_id: uuid.UUID, number: int, title_fr: str, title_nl: str, planned_on: date
    ) -> Row:
        """Plan a milestone, or re-plan it: a re-planned milestone may be announced overdue again."""
        row = await self.db.fetchrow(
            """INSERT INTO milestones (id, action_number, title_fr, title_nl, planned_on) VALUES ($1, $2, $3, $4, $5)
                ON CONFLICT (id) DO UPDATE SET title_fr = EXCLUDED.title_fr, title_nl = EXCLUDED.title_nl,
                    planned_on = EXCLUDED.planned_on, overdue_announced_on = NULL, updated_at = now()
                RETURNING id, action_number, title_fr, title_nl, planned_on, reached_on, overdue_announced_on,
                          created_at, updated_at""",
            milestone_id,
            number,
            title_fr,
            title_nl,
            planned_on,
        )
        assert row is not None  # an upsert always returns its row
        return dict(row)

    async def mark_reached(self, milestone_id: uuid.UUID, number: int, reached_on: date) -> Row | None:
        """The milestone, now reached; None if it does not exist or was already reached."""
        row = await self.db.fetchrow(
            """UPDATE milestones SET reached_on = $3, updated_at = now()
                WHERE id = $1 AND action_number = $2 AND reached_on IS NULL
                RETURNING id, action_number, title_fr, title_nl, planned_on, reached_on, overdue_announced_on,
                          created_at, updated_at""",
            milestone_id,
            number,
            reached_on,
        )
        return None if row is None else dict(row)

    async def milestone_counts(self, number: int) -> tuple[int, int]:
        """(milestones, milestones reached) of an action."""
        row = await self.db.fetchrow(
            "SELECT count(*) AS total, count(reached_on) AS reached FROM milestones WHERE action_number = $1", number
        )
        assert row is not None  # an aggregate always returns a row
        return row["total"], row["reached"]

    async def claim_overdue(self, as_of: date) -> list[Row]:
        """Flag and return every milestone past its date, not reached and not announced yet.

        Safe to run concurrently and repeatedly: rows are claimed with SKIP LOCKED and flagged in
        the transaction that announces them."""
        rows = await self.db.fetch(
            """WITH claimed AS (
                    UPDATE milestones SET overdue_announced_on = $1
                    WHERE id IN (SELECT id FROM milestones
                                 WHERE reached_on IS NULL AND overdue_announced_on IS NULL AND planned_on < $1
                                 ORDER BY action_number, planned_on FOR UPDATE SKIP LOCKED)
                    RETURNING id, action_number, title_fr, title_nl, planned_on, reached_on, overdue_announced_on,
                              created_at, updated_at)
                SELECT * FROM claimed ORDER BY action_number, planned_on, id""",
            as_of,
        )
        return [dict(r) for r in rows]
