"""Milestones: planned and actual dates; an overdue milestone is announced once."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date

from passerelle_contracts import Envelope

from services.runtime.errors import Conflict, NotFound
from services.runtime.inputs import check_happened, check_planned
from services.runtime.uow import Context

from .. import domain, events
from ..sql import Row
from .actions import refresh_milestone_progress
from .aggregate import Uow, locked_action, record


@dataclass(frozen=True)
class PlanMilestone:
    action_number: int
    title_fr: str
    title_nl: str
    planned_on: date
    milestone_id: uuid.UUID | None = None  # re-plan this one; None plans a new one


async def plan_milestone(uow: Uow, command: PlanMilestone) -> Row:
    """Plan a new milestone, or re-plan one (new title or date; an overdue flag is cleared)."""
    number, milestone_id = command.action_number, command.milestone_id
    check_planned(command.planned_on, "planned_on")
    async with uow:
        state = await locked_action(uow, number)
        domain.authorise_update(uow.actor.role, uow.actor.organisation, state)
        old: Row = {}
        if milestone_id is not None:
            found = await uow.repo.get_milestone(milestone_id, number)
            if found is None:
                raise NotFound(f"no milestone {milestone_id} on action {number}")
            if found["reached_on"] is not None:
                raise Conflict(
                    f"milestone {milestone_id} was reached on {found['reached_on']}; it cannot be re-planned"
                )
            old = found
        diff = events.changes(
            old, {"title_fr": command.title_fr, "title_nl": command.title_nl, "planned_on": command.planned_on}
        )
        if not diff:
            return old
        milestone = await uow.repo.save_milestone(
            milestone_id or uuid.uuid4(), number, command.title_fr, command.title_nl, command.planned_on
        )
        planned = await record(uow, events.milestone_planned(milestone, diff))
        await refresh_milestone_progress(uow, number, cause=planned)
    return milestone


@dataclass(frozen=True)
class ReachMilestone:
    action_number: int
    milestone_id: uuid.UUID
    reached_on: date


async def reach_milestone(uow: Uow, command: ReachMilestone) -> Row:
    number, milestone_id = command.action_number, command.milestone_id
    check_happened(command.reached_on, "reached_on")
    async with uow:
        state = await locked_action(uow, number)
        domain.authorise_update(uow.actor.role, uow.actor.organisation, state)
        milestone = await uow.repo.mark_reached(milestone_id, number, command.reached_on)
        if milestone is None:
            found = await uow.repo.get_milestone(milestone_id, number)
            if found is None:
                raise NotFound(f"no milestone {milestone_id} on action {number}")
            raise Conflict(f"milestone {milestone_id} was already reached on {found['reached_on']}")
        reached = await record(uow, events.milestone_reached(milestone))
        await refresh_milestone_progress(uow, number, cause=reached)
    return milestone


@dataclass(frozen=True)
class AnnounceOverdue:
    as_of: date


async def announce_overdue(uow: Uow, command: AnnounceOverdue) -> list[Envelope]:
    """Announce every milestone past its date and not reached, once: the scheduled check (also run
    on demand). Safe to run concurrently and repeatedly (see ``claim_overdue``).

    The announcements are the system's, whoever runs the check, in the flow of that run."""
    check_happened(command.as_of, "as_of")  # a far-future day would announce every milestone, for ever
    context = Context.system(uow.correlation_id)
    async with uow:
        claimed = await uow.repo.claim_overdue(command.as_of)
        return [await record(uow, events.milestone_overdue(m, command.as_of), context=context) for m in claimed]
