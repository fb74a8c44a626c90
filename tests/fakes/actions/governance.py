"""Meetings and decisions, in memory (``services/actions/sql/governance.py``)."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from services.actions.sql import Row

from .base import (
    MEETING_COLUMNS,
    FakeTables,
    jsonb,
    now,
    pick,
)


class FakeGovernance(FakeTables):
    # -- governance ---------------------------------------------------------------------------
    async def insert_meeting(
        self, kind: str, held_on: date, attendees: list[str], agenda: list[dict[str, Any]], recorded_by: dict[str, Any]
    ) -> Row:
        if kind not in ("working_group", "copil"):
            raise ValueError(f"meeting kind {kind!r}")  # the table's CHECK
        meeting_id = uuid.uuid4()
        self.meetings_[meeting_id] = {
            "id": meeting_id,
            "kind": kind,
            "held_on": held_on,
            "attendees": list(attendees),
            "agenda": jsonb(agenda),
            "recorded_by": jsonb(recorded_by),
            "recorded_at": now(),
        }
        return pick(self.meetings_[meeting_id], MEETING_COLUMNS)

    async def insert_decision(self, meeting_id: uuid.UUID, number: int, decision: str) -> None:
        if meeting_id not in self.meetings_ or number not in self.actions:
            raise LookupError("a decision names an unknown meeting or action")  # the foreign keys
        self.decisions.append(
            {
                "id": uuid.uuid4(),
                "meeting_id": meeting_id,
                "action_number": number,
                "decision": decision,
                "recorded_at": now(),
            }
        )

    async def meetings(self, year: int | None = None) -> list[Row]:
        rows = sorted(self.meetings_.values(), key=lambda m: (m["held_on"], m["recorded_at"]))
        return [
            {
                **pick(m, MEETING_COLUMNS),
                "decisions": [
                    {"action_number": d["action_number"], "decision": d["decision"]}
                    for d in sorted(self.decisions, key=lambda d: d["recorded_at"])
                    if d["meeting_id"] == m["id"]
                ],
            }
            for m in rows
            if year is None or m["held_on"].year == year
        ]
