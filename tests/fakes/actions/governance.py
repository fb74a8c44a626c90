"""Meetings and decisions, in memory (``services/actions/sql/governance.py``)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

from services.actions.domain.meetings import MEETING_STATUSES
from services.actions.sql import Row
from services.runtime.inputs import BRUSSELS

from .base import (
    MEETING_COLUMNS,
    FakeTables,
    jsonb,
    now,
    pick,
)


def _utc(moment: datetime | None) -> datetime | None:
    """What a timestamptz gives back: the same instant, in UTC."""
    return None if moment is None else moment.astimezone(UTC)


class FakeGovernance(FakeTables):
    # -- governance ---------------------------------------------------------------------------
    def _new_meeting(self, kind: str, recorded_by: dict[str, Any], **values: Any) -> Row:
        if kind not in ("working_group", "copil"):
            raise ValueError(f"meeting kind {kind!r}")  # the table's CHECK
        meeting_id = uuid.uuid4()
        row: Row = {
            "id": meeting_id,
            "kind": kind,
            "starts_at": None,
            "ends_at": None,
            "location": "",
            "agenda": [],
            "invited": [],
            "held_on": None,
            "attendees": [],
            "absent": [],
            "minutes": "",
            "cancellation_reason": "",
            "held_recorded_at": None,
            "recorded_by": jsonb(recorded_by),
            "recorded_at": now(),
            **values,
        }
        row["updated_at"] = row["recorded_at"]
        self._check_meeting(row)
        self.meetings_[meeting_id] = row
        return pick(row, MEETING_COLUMNS)

    @staticmethod
    def _check_meeting(row: Row) -> None:
        """Migration 0007's CHECKs."""
        if row["status"] not in MEETING_STATUSES:
            raise ValueError(f"meeting status {row['status']!r}")
        held = row["status"] == "held"
        if held != (row["held_on"] is not None) or held != (row["held_recorded_at"] is not None):
            raise ValueError("a meeting has a day held if, and only if, it was held")
        if not held and row["starts_at"] is None:
            raise ValueError("a meeting not held has its start")
        if row["ends_at"] is not None and not row["ends_at"] > row["starts_at"]:
            raise ValueError("a meeting ends after it starts")

    async def insert_meeting(
        self, kind: str, held_on: date, attendees: list[str], agenda: list[dict[str, Any]], recorded_by: dict[str, Any]
    ) -> Row:
        return self._new_meeting(
            kind,
            recorded_by,
            status="held",
            held_on=held_on,
            attendees=list(attendees),
            agenda=jsonb(agenda),
            held_recorded_at=now(),
        )

    async def schedule_meeting(
        self,
        kind: str,
        starts_at: datetime,
        ends_at: datetime | None,
        location: str,
        agenda: list[dict[str, Any]],
        invited: list[str],
        recorded_by: dict[str, Any],
    ) -> Row:
        return self._new_meeting(
            kind,
            recorded_by,
            status="scheduled",
            starts_at=_utc(starts_at),
            ends_at=_utc(ends_at),
            location=location,
            agenda=jsonb(agenda),
            invited=list(invited),
        )

    async def lock_meeting(self, meeting_id: uuid.UUID) -> Row | None:
        found = self.meetings_.get(meeting_id)
        return None if found is None else pick(found, MEETING_COLUMNS)  # one caller at a time: nothing to lock

    def _update_scheduled(self, meeting_id: uuid.UUID, **values: Any) -> Row:
        found = self.meetings_.get(meeting_id)
        if found is None or found["status"] != "scheduled":
            raise LookupError(f"no scheduled meeting {meeting_id}")
        updated = {**found, **values, "updated_at": now()}
        self._check_meeting(updated)
        self.meetings_[meeting_id] = updated
        return pick(updated, MEETING_COLUMNS)

    async def reschedule_meeting(self, meeting_id: uuid.UUID, schedule: dict[str, Any]) -> Row:
        return self._update_scheduled(
            meeting_id,
            starts_at=_utc(schedule["starts_at"]),
            ends_at=_utc(schedule["ends_at"]),
            location=schedule["location"],
            agenda=jsonb(schedule["agenda"]),
            invited=list(schedule["invited"]),
        )

    async def cancel_meeting(self, meeting_id: uuid.UUID, reason: str) -> Row:
        return self._update_scheduled(meeting_id, status="cancelled", cancellation_reason=reason)

    async def mark_meeting_held(
        self,
        meeting_id: uuid.UUID,
        held_on: date,
        attendees: list[str],
        absent: list[str],
        agenda: list[dict[str, Any]],
        minutes: str,
    ) -> Row:
        return self._update_scheduled(
            meeting_id,
            status="held",
            held_on=held_on,
            attendees=list(attendees),
            absent=list(absent),
            agenda=jsonb(agenda),
            minutes=minutes,
            held_recorded_at=now(),
        )

    async def convened_members(self, kind: str) -> list[str]:
        column = {"working_group": "working_group", "copil": "copil"}[kind]
        return sorted(code for code, o in self.organisations_.items() if o[column])

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

    def _with_decisions(self, meeting: Row) -> Row:
        return {
            **pick(meeting, MEETING_COLUMNS),
            "decisions": [
                {"action_number": d["action_number"], "decision": d["decision"]}
                for d in sorted(self.decisions, key=lambda d: d["recorded_at"])
                if d["meeting_id"] == meeting["id"]
            ],
        }

    async def meeting(self, meeting_id: uuid.UUID) -> Row | None:
        found = self.meetings_.get(meeting_id)
        return None if found is None else self._with_decisions(found)

    async def meetings(self, year: int | None = None, status: str | None = None) -> list[Row]:
        def day(m: Row) -> date:
            held_on: date | None = m["held_on"]
            return held_on if held_on is not None else m["starts_at"].astimezone(BRUSSELS).date()

        rows = sorted(self.meetings_.values(), key=lambda m: (day(m), m["recorded_at"]))
        return [
            self._with_decisions(m)
            for m in rows
            if (year is None or day(m).year == year) and (status is None or m["status"] == status)
        ]
