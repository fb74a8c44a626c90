"""Milestones, in memory (``services/actions/sql/milestones.py``)."""

from __future__ import annotations

import uuid
from datetime import date

from services.actions.sql import Row

from .base import (
    FakeTables,
    now,
)


class FakeMilestones(FakeTables):
    # -- milestones ---------------------------------------------------------------------------
    async def milestones(self, number: int | None = None) -> list[Row]:
        rows = sorted(self.milestones_.values(), key=lambda m: (m["planned_on"], m["id"]))
        return [dict(m) for m in rows if number is None or m["action_number"] == number]

    async def get_milestone(self, milestone_id: uuid.UUID, number: int) -> Row | None:
        found = self.milestones_.get(milestone_id)
        return dict(found) if found is not None and found["action_number"] == number else None

    async def save_milestone(
        self, milestone_id: uuid.UUID, number: int, title_fr: str, title_nl: str, planned_on: date
    ) -> Row:
        existing = self.milestones_.get(milestone_id)
        if existing is not None:
            existing.update(
                title_fr=title_fr,
                title_nl=title_nl,
                planned_on=planned_on,
                overdue_announced_on=None,
                updated_at=now(),
            )
            return dict(existing)
        if number not in self.actions:
            raise LookupError(f"no action {number}")  # the foreign key
        created = now()
        self.milestones_[milestone_id] = {
            "id": milestone_id,
            "action_number": number,
            "title_fr": title_fr,
            "title_nl": title_nl,
            "planned_on": planned_on,
            "reached_on": None,
            "overdue_announced_on": None,
            "created_at": created,
            "updated_at": created,
        }
        return dict(self.milestones_[milestone_id])

    async def mark_reached(self, milestone_id: uuid.UUID, number: int, reached_on: date) -> Row | None:
        found = self.milestones_.get(milestone_id)
        if found is None or found["action_number"] != number or found["reached_on"] is not None:
            return None
        found.update(reached_on=reached_on, updated_at=now())
        return dict(found)

    async def milestone_counts(self, number: int) -> tuple[int, int]:
        mine = [m for m in self.milestones_.values() if m["action_number"] == number]
        return len(mine), sum(1 for m in mine if m["reached_on"] is not None)

    async def claim_overdue(self, as_of: date) -> list[Row]:
        due = sorted(
            (
                m
                for m in self.milestones_.values()
                if m["reached_on"] is None and m["overdue_announced_on"] is None and m["planned_on"] < as_of
            ),
            key=lambda m: (m["action_number"], m["planned_on"], m["id"]),
        )
        for m in due:
            m["overdue_announced_on"] = as_of
        return [dict(m) for m in due]
