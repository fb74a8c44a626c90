"""Progress reports, in memory (``services/actions/sql/progress_reports.py``)."""

from __future__ import annotations

import copy
import uuid
from typing import Any

from services.actions.sql import Row

from .base import (
    FakeTables,
    jsonb,
    now,
)


class FakeProgressReports(FakeTables):
    # -- progress reports ---------------------------------------------------------------------
    async def progress_reports(
        self, number: int | None = None, status: str | None = None, reader: str | None = None
    ) -> list[Row]:
        rows = sorted(self.reports.values(), key=lambda r: (r["action_number"], r["period"]))

        def readable(report: Row) -> bool:
            action = self.actions[report["action_number"]]
            return reader is None or report["status"] == "approved" or reader in (action["lead"], *action["partners"])

        return [
            copy.deepcopy(r)
            for r in rows
            if (number is None or r["action_number"] == number)
            and (status is None or r["status"] == status)
            and readable(r)
        ]

    async def report_for_period(self, number: int, period: str) -> Row | None:
        found = next((r for r in self.reports.values() if (r["action_number"], r["period"]) == (number, period)), None)
        return copy.deepcopy(found)

    async def save_report(self, number: int, period: str, body: str, created_by: dict[str, Any]) -> Row:
        existing = next(
            (r for r in self.reports.values() if (r["action_number"], r["period"]) == (number, period)), None
        )
        if existing is not None:
            existing.update(body=body, updated_at=now())
            return copy.deepcopy(existing)
        if number not in self.actions:
            raise LookupError(f"no action {number}")  # the foreign key
        created, report_id = now(), uuid.uuid4()
        self.reports[report_id] = {
            "id": report_id,
            "action_number": number,
            "period": period,
            "status": "draft",
            "body": body,
            "comment": "",
            "created_by": jsonb(created_by),
            "created_at": created,
            "updated_at": created,
        }
        return copy.deepcopy(self.reports[report_id])

    async def report_action(self, report_id: uuid.UUID) -> int | None:
        found = self.reports.get(report_id)
        return None if found is None else int(found["action_number"])

    async def lock_report(self, report_id: uuid.UUID) -> Row | None:
        return copy.deepcopy(self.reports.get(report_id))

    async def set_report_status(self, report_id: uuid.UUID, status: str, comment: str) -> Row:
        if report_id not in self.reports:
            raise LookupError(f"no progress report {report_id}")
        self.reports[report_id].update(status=status, comment=comment, updated_at=now())
        return copy.deepcopy(self.reports[report_id])
