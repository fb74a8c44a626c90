"""What the service learns of the plan from the actions service (consumer ``plan-directory``): each
action's axis, chantier and lead, so that a filter on an axis or a chantier matches and an owner
hears of its actions; and the meetings scheduled, so that the members are reminded the day before
and get a digest of what changed since the last meeting.

Like the EPN directory, a consumer group of its own that reads the actions topic from its first
record: the actions were registered long before this version, and the mailer's group is past them.
Every handler is an upsert of the latest word, so a redelivery or a replay changes nothing.
"""

from __future__ import annotations

from passerelle_contracts import Envelope
from passerelle_contracts.actions_v1 import (
    ActionDetailsChanged,
    ActionRegistered,
    MeetingCancelled,
    MeetingHeld,
    MeetingRescheduled,
    MeetingScheduled,
)

from services.runtime.logs import get_logger
from services.runtime.uow import UnitOfWork

from ..repository import NotificationsRepository

Uow = UnitOfWork[NotificationsRepository]
log = get_logger(__name__)


async def on_action_registered(uow: Uow, envelope: Envelope, data: ActionRegistered) -> None:
    async with uow:
        await uow.repo.save_plan_action(data.action_number, data.axis, data.chantier, data.lead, list(data.partners))


async def on_action_details_changed(uow: Uow, envelope: Envelope, data: ActionDetailsChanged) -> None:
    """A new lead: the new owner hears of the action from now on."""
    for change in data.changes:
        if change.field == "lead" and isinstance(change.new, str) and change.new:
            async with uow:
                await uow.repo.change_plan_action_lead(data.action_number, change.new)
            log.info("action lead changed", action=data.action_number, lead=change.new)


async def on_meeting_planned(uow: Uow, envelope: Envelope, data: MeetingScheduled | MeetingRescheduled) -> None:
    async with uow:
        await uow.repo.save_meeting(data.meeting_id, data.kind, data.starts_at, envelope.data, "scheduled")


async def on_meeting_cancelled(uow: Uow, envelope: Envelope, data: MeetingCancelled) -> None:
    async with uow:
        await uow.repo.save_meeting(data.meeting_id, data.kind, data.starts_at, envelope.data, "cancelled")


async def on_meeting_held(uow: Uow, envelope: Envelope, data: MeetingHeld) -> None:
    async with uow:
        await uow.repo.save_meeting(data.meeting_id, data.kind, None, envelope.data, "held", held_on=data.held_on)
