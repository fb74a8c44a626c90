"""Progress reports: one per action and period."""

from __future__ import annotations

import uuid
from typing import Any

from .base import Queries, Row


class ProgressReportQueries(Queries):
    async def progress_reports(
        self, number: int | None = None, status: str | None = None, reader: str | None = None
    ) -> list[Row]:
        """Reports by action and period. ``reader``: an organisation that sees the approved reports
        and those of the actions it leads or is a partner of (None: every report)."""
        rows = await self.db.fetch(
            """SELECT r.id, r.action_number, r.period, r.status, r.body, r.comment, r.created_by, r.created_at,
                      r.updated_at
               FROM progress_reports r JOIN actions a ON a.number = r.action_number
               WHERE ($1::int IS NULL OR r.action_number = $1) AND ($2::text IS NULL OR r.status = $2)
                 AND ($3::text IS NULL OR r.status = 'approved' OR a.lead = $3 OR $3 = ANY(a.partners))
               ORDER BY r.action_number, r.period""",
            number,
            status,
            reader,
        )
        return [dict(r) for r in rows]

    async def report_for_period(self, number: int, period: str) -> Row | None:
        row = await self.db.fetchrow(
            """SELECT id, action_number, period, status, body, comment, created_by, created_at, updated_at
               FROM progress_reports WHERE action_number = $1 AND period = $2""",
            number,
            period,
        )
        return None if row is None else dict(row)

    async def save_report(self, number: int, period: str, body: str, created_by: dict[str, Any]) -> Row:
        """Create the action's report for a period as a draft, or replace its body."""
        row = await self.db.fetchrow(
            """INSERT INTO progress_reports (id, action_number, period, body, created_by) VALUES ($1, $2, $3, $4, $5)
                ON CONFLICT (action_number, period) DO UPDATE SET body = EXCLUDED.body, updated_at = now()
                RETURNING id, action_number, period, status, body, comment, created_by, created_at, updated_at""",
            uuid.uuid4(),
            number,
            period,
            body,
            created_by,
        )
        assert row is not None  # an upsert always returns its row
        return dict(row)

    async def report_action(self, report_id: uuid.UUID) -> int | None:
        """The action a report belongs to (to lock the action before the report)."""
        number: int | None = await self.db.fetchval(
            "SELECT action_number FROM progress_reports WHERE id = $1", report_id
        )
        return number

    async def lock_report(self, report_id: uuid.UUID) -> Row | None:
        row = await self.db.fetchrow(
            """SELECT id, action_number, period, status, body, comment, created_by, created_at, updated_at
               FROM progress_reports WHERE id = $1 FOR UPDATE""",
            report_id,
        )
        return None if row is None else dict(row)

    async def set_report_status(self, report_id: uuid.UUID, status: str, comment: str) -> Row:
        row = await self.db.fetchrow(
            """UPDATE progress_reports SET status = $2, comment = $3, updated_at = now() WHERE id = $1
                RETURNING id, action_number, period, status, body, comment, created_by, created_at, updated_at""",
            report_id,
            status,
            comment,
        )
        if row is None:
            raise LookupError(f"no progress report {report_id}")
        return dict(row)
