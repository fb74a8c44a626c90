"""Working Group and COPIL meetings (scheduled, cancelled or held) and their decisions."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from .base import Queries, Row

MEETING = """m.id, m.kind, m.status, m.starts_at, m.ends_at, m.location, m.agenda, m.invited, m.held_on,
    m.attendees, m.absent, m.minutes, m.cancellation_reason, m.recorded_at, m.updated_at"""
"""A meeting's columns, as every query returns them (``m`` is the meetings table)."""

DECISIONS = """coalesce((SELECT jsonb_agg(jsonb_build_object('action_number', d.action_number, 'decision', d.decision)
                                  ORDER BY d.recorded_at)
                        FROM decisions d WHERE d.meeting_id = m.id), '[]') AS decisions"""

# The day a meeting is listed under: the day it was held, else its start's day in Brussels.
DAY = "coalesce(m.held_on, (m.starts_at AT TIME ZONE 'Europe/Brussels')::date)"


class GovernanceQueries(Queries):
    async def insert_meeting(
        self,
        kind: str,
        held_on: date,
        attendees: list[str],
        agenda: list[dict[str, Any]],
        recorded_by: dict[str, Any],
    ) -> Row:
        """A meeting recorded after it was held: held from the start."""
        row = await self.db.fetchrow(
            f"""INSERT INTO meetings AS m (id, kind, status, held_on, attendees, agenda, recorded_by, held_recorded_at)
               VALUES ($1, $2, 'held', $3, $4, $5, $6, now())
               RETURNING {MEETING}""",  # noqa: S608 (a constant list of columns)
            uuid.uuid4(),
            kind,
            held_on,
            attendees,
            agenda,
            recorded_by,
        )
        assert row is not None  # an insert returns its row
        return dict(row)

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
        row = await self.db.fetchrow(
            f"""INSERT INTO meetings AS m (id, kind, status, starts_at, ends_at, location, agenda, invited, recorded_by)
               VALUES ($1, $2, 'scheduled', $3, $4, $5, $6, $7, $8)
               RETURNING {MEETING}""",  # noqa: S608 (a constant list of columns)
            uuid.uuid4(),
            kind,
            starts_at,
            ends_at,
            location,
            agenda,
            invited,
            recorded_by,
        )
        assert row is not None  # an insert returns its row
        return dict(row)

    async def lock_meeting(self, meeting_id: uuid.UUID) -> Row | None:
        """The meeting, locked until the transaction ends: one meeting's changes serialise, so its
        events reach the outbox in the order they happened."""
        row = await self.db.fetchrow(f"SELECT {MEETING} FROM meetings m WHERE m.id = $1 FOR UPDATE", meeting_id)  # noqa: S608
        return None if row is None else dict(row)

    async def reschedule_meeting(self, meeting_id: uuid.UUID, schedule: dict[str, Any]) -> Row:
        """``schedule``: the meeting's ``starts_at``, ``ends_at``, ``location``, ``agenda`` and ``invited``."""
        row = await self.db.fetchrow(
            f"""UPDATE meetings AS m SET starts_at = $2, ends_at = $3, location = $4, agenda = $5, invited = $6,
                      updated_at = now()
               WHERE m.id = $1 AND m.status = 'scheduled' RETURNING {MEETING}""",  # noqa: S608
            meeting_id,
            schedule["starts_at"],
            schedule["ends_at"],
            schedule["location"],
            schedule["agenda"],
            schedule["invited"],
        )
        if row is None:
            raise LookupError(f"no scheduled meeting {meeting_id}")  # the use case checked it under lock
        return dict(row)

    async def cancel_meeting(self, meeting_id: uuid.UUID, reason: str) -> Row:
        row = await self.db.fetchrow(
            f"""UPDATE meetings AS m SET status = 'cancelled', cancellation_reason = $2, updated_at = now()
               WHERE m.id = $1 AND m.status = 'scheduled' RETURNING {MEETING}""",  # noqa: S608
            meeting_id,
            reason,
        )
        if row is None:
            raise LookupError(f"no scheduled meeting {meeting_id}")
        return dict(row)

    async def mark_meeting_held(
        self,
        meeting_id: uuid.UUID,
        held_on: date,
        attendees: list[str],
        absent: list[str],
        agenda: list[dict[str, Any]],
        minutes: str,
    ) -> Row:
        row = await self.db.fetchrow(
            f"""UPDATE meetings AS m SET status = 'held', held_on = $2, attendees = $3, absent = $4, agenda = $5,
                      minutes = $6, held_recorded_at = now(), updated_at = now()
               WHERE m.id = $1 AND m.status = 'scheduled' RETURNING {MEETING}""",  # noqa: S608
            meeting_id,
            held_on,
            attendees,
            absent,
            agenda,
            minutes,
        )
        if row is None:
            raise LookupError(f"no scheduled meeting {meeting_id}")
        return dict(row)

    async def convened_members(self, kind: str) -> list[str]:
        """The organisations a meeting of ``kind`` convenes: the Working Group's or the COPIL's members."""
        column = {"working_group": "working_group", "copil": "copil"}[kind]
        rows = await self.db.fetch(f"SELECT code FROM organisations WHERE {column} ORDER BY code")  # noqa: S608
        return [r["code"] for r in rows]

    async def insert_decision(self, meeting_id: uuid.UUID, number: int, decision: str) -> None:
        await self.db.execute(
            "INSERT INTO decisions (id, meeting_id, action_number, decision) VALUES ($1, $2, $3, $4)",
            uuid.uuid4(),
            meeting_id,
            number,
            decision,
        )

    async def meeting(self, meeting_id: uuid.UUID) -> Row | None:
        """One meeting with its decisions."""
        row = await self.db.fetchrow(f"SELECT {MEETING}, {DECISIONS} FROM meetings m WHERE m.id = $1", meeting_id)  # noqa: S608
        return None if row is None else dict(row)

    async def meetings(self, year: int | None = None, status: str | None = None) -> list[Row]:
        """Meetings (of one calendar year, of one status) by day, each with its decisions. A meeting's
        day is the day it was held, else its start's day in Brussels."""
        rows = await self.db.fetch(
            f"""SELECT {MEETING}, {DECISIONS} FROM meetings m
               WHERE ($1::int IS NULL OR extract(year FROM {DAY}) = $1) AND ($2::text IS NULL OR m.status = $2)
               ORDER BY {DAY}, m.recorded_at""",  # noqa: S608 (constant fragments; the values are parameters)
            year,
            status,
        )
        return [dict(r) for r in rows]
