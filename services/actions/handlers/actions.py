"""An action's status, details and progress."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from passerelle_contracts import Envelope

from services.runtime.errors import Conflict, Forbidden
from services.runtime.uow import Context

from .. import domain, events
from ..sql import Row
from .aggregate import Uow, locked_action, record


async def _action(uow: Uow, number: int) -> Row:
    """An action the caller has locked (so it exists)."""
    action = await uow.repo.get_action(number)
    assert action is not None, f"action {number} was locked, so it exists"
    return action


@dataclass(frozen=True)
class ChangeStatus:
    action_number: int
    status: str
    traffic_light: str | None
    note: str


async def change_status(uow: Uow, command: ChangeStatus) -> Envelope:
    """Move an action's status (as ``domain.TRANSITIONS`` allows), traffic light and note."""
    async with uow:
        state = await locked_action(uow, command.action_number)
        domain.authorise_update(uow.actor.role, uow.actor.organisation, state)
        diff = domain.change_status(state, command.status, command.traffic_light, command.note)
        await uow.repo.update_status(command.action_number, command.status, command.traffic_light, command.note)
        action = await _action(uow, command.action_number)
        return await record(uow, events.status_changed(action, state.status, diff))


@dataclass(frozen=True)
class ChangeDetails:
    """Only the fields in ``values`` change (titles, lead, partners, publics, weight)."""

    action_number: int
    values: dict[str, Any]


async def change_details(uow: Uow, command: ChangeDetails) -> Envelope | None:
    """Edit titles, lead, partners, publics or weight (the Coordination only). None if nothing changed."""
    number, values = command.action_number, command.values
    async with uow:
        await locked_action(uow, number)
        if uow.actor.role != "coordination":
            raise Forbidden(
                f"only the Coordination edits an action's details, not {uow.actor.organisation} ({uow.actor.role})"
            )
        unknown = await uow.repo.unknown_organisations([values["lead"]] if "lead" in values else [])
        unknown += await uow.repo.unknown_organisations(list(values.get("partners", [])))
        if unknown:
            raise Conflict(f"unknown organisations: {', '.join(unknown)}")
        return await apply_details(uow, number, values)


async def apply_details(uow: Uow, number: int, values: dict[str, Any]) -> Envelope | None:
    """Set the details in ``values`` (checked by the caller) of an action the caller has locked: a
    new version, announced field by field (ActionDetailsChanged, in the action's history). None if
    nothing changed. Used by ``change_details`` for the Coordination, and by the plan's loading for
    the seed's Dutch titles (``handlers.plan``)."""
    current = await _action(uow, number)
    diff = events.changes(current, values)
    if not diff:
        return None
    await uow.repo.set_details(number, values)
    title_fr: str = values["title_fr"] if "title_fr" in values else current["title_fr"]
    return await record(uow, events.details_changed(number, title_fr, diff))


@dataclass(frozen=True)
class UpdateProgress:
    action_number: int
    progress: Decimal | None  # required in manual mode
    mode: str  # "manual" or "milestones"


async def update_progress(uow: Uow, command: UpdateProgress) -> Envelope | None:
    """Set an action's progress by hand, or switch it to 'milestones' mode (derived). None if unchanged."""
    async with uow:
        state = await locked_action(uow, command.action_number)
        domain.authorise_update(uow.actor.role, uow.actor.organisation, state)
        if command.mode == "manual":
            if command.progress is None:
                raise Conflict("manual progress needs a value between 0 and 100")
            domain.check_progress(command.progress)
            return await apply_progress(uow, command.action_number, command.progress, "manual")
        return await refresh_milestone_progress(uow, command.action_number, switch=True)


async def apply_progress(
    uow: Uow, number: int, progress: Decimal, mode: str, *, context: Context | None = None
) -> Envelope | None:
    """Set the progress of a locked action; None (and no event) if neither value nor mode changes."""
    current = await _action(uow, number)
    if current["progress"] == progress and current["progress_mode"] == mode:
        return None
    await uow.repo.set_progress(number, progress, mode)
    event = events.progress_updated(number, current["title_fr"], current["progress"], progress, mode)
    return await record(uow, event, context=context)


async def refresh_milestone_progress(
    uow: Uow, number: int, *, switch: bool = False, cause: Envelope | None = None
) -> Envelope | None:
    """In 'milestones' mode (or when switching to it), progress is the share of milestones reached;
    recompute it for a locked action. ``cause``: the milestone event that made it change."""
    if (await _action(uow, number))["progress_mode"] != "milestones" and not switch:
        return None
    total, reached = await uow.repo.milestone_counts(number)
    progress = domain.progress_from_milestones(total, reached)
    context = None if cause is None else Context.caused_by(cause, uow.actor)
    return await apply_progress(uow, number, progress, "milestones", context=context)
