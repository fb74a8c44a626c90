"""The annual report: what it is assembled from (the plan, the history, the meetings, as of a
cut-off) and its published files."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from .base import Queries, Row


class AnnualReportQueries(Queries):
    async def report_plan(self) -> list[Row]:
        """Every action with its chantier's and axis's titles, its lead's and partners' names (a
        partner unknown as an organisation keeps its code)."""
        rows = await self.db.fetch(
            """SELECT a.number, a.title_fr, a.title_nl, a.chantier, a.weight, lo.name AS lead,
                      array(SELECT coalesce(o.name, p) FROM unnest(a.partners) p
                            LEFT JOIN organisations o ON o.code = p) AS partners,
                      c.axis, c.title_fr AS chantier_fr, c.title_nl AS chantier_nl, x.title_fr AS axis_fr,
                      x.title_nl AS axis_nl
               FROM actions a JOIN chantiers c ON c.number = a.chantier JOIN axes x ON x.number = c.axis
               JOIN organisations lo ON lo.code = a.lead ORDER BY a.number"""
        )
        return [dict(r) for r in rows]

    async def history_until(self, cutoff: datetime) -> list[Row]:
        """Every history entry that occurred before ``cutoff``, in the order it was recorded."""
        rows = await self.db.fetch(
            """SELECT action_number, event_type, data, changes, occurred_at FROM action_history
               WHERE occurred_at < $1 ORDER BY id""",
            cutoff,
        )
        return [dict(r) for r in rows]

    async def meetings_until(self, cutoff: datetime, first: date, last: date) -> list[Row]:
        """Meetings held between ``first`` and ``last`` and recorded held before ``cutoff``, by date,
        with how many organisations attended and how many decisions were taken. A meeting scheduled
        or cancelled is not among them, nor one scheduled before the cut-off and recorded held after
        it (``held_recorded_at``, migration 0007): a report rebuilt later gives the same meetings."""
        rows = await self.db.fetch(
            """SELECT m.held_on, m.kind, cardinality(m.attendees) AS attendees,
                      (SELECT count(*) FROM decisions d WHERE d.meeting_id = m.id) AS decisions
               FROM meetings m WHERE m.held_recorded_at < $1 AND m.held_on BETWEEN $2 AND $3 ORDER BY m.held_on""",
            cutoff,
            first,
            last,
        )
        return [dict(r) for r in rows]

    async def annual_report_exists(self, report_id: str) -> bool:
        found = await self.db.fetchval("SELECT id FROM annual_reports WHERE id = $1", report_id)
        return found is not None

    async def insert_annual_report(
        self, report_id: str, year: int, as_of: date, published_by: dict[str, Any], files: dict[str, tuple[str, bytes]]
    ) -> None:
        """``files``: name -> (SHA-256, content)."""
        await self.db.execute(
            "INSERT INTO annual_reports (id, year, as_of, published_by) VALUES ($1, $2, $3, $4)",
            report_id,
            year,
            as_of,
            published_by,
        )
        await self.db.executemany(
            "INSERT INTO annual_report_files (report_id, name, sha256, content) VALUES ($1, $2, $3, $4)",
            [(report_id, name, sha, content) for name, (sha, content) in files.items()],
        )

    async def annual_reports(self, year: int | None = None) -> list[Row]:
        """Published reports by year and cut-off, each with its files' names and SHA-256."""
        rows = await self.db.fetch(
            """SELECT r.id, r.year, r.as_of, r.published_at, jsonb_object_agg(f.name, f.sha256) AS files
               FROM annual_reports r JOIN annual_report_files f ON f.report_id = r.id
               WHERE ($1::int IS NULL OR r.year = $1) GROUP BY r.id ORDER BY r.year, r.as_of""",
            year,
        )
        return [dict(r) for r in rows]

    async def annual_report_file(self, report_id: str, name: str) -> tuple[bytes, str] | None:
        """(content, SHA-256) of one published file."""
        row = await self.db.fetchrow(
            "SELECT content, sha256 FROM annual_report_files WHERE report_id = $1 AND name = $2", report_id, name
        )
        return None if row is None else (row["content"], row["sha256"])
