"""Progress reports per action and period: draft -> submitted -> approved, or returned with a comment."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from services.runtime.errors import Conflict, NotFound

from .. import domain, events
from ..sql import Row
from .aggregate import Uow, locked_action, record


@dataclass(frozen=True)
class WriteReport:
    action_number: int
    period: str
    body: str


async def write_report(uow: Uow, command: WriteReport) -> Row:
    """Create the action's report for a period, or edit it while it is a draft or returned."""
    number, period = command.action_number, command.period
    async with uow:
        state = await locked_action(uow, number)
        domain.authorise_update(uow.actor.role, uow.actor.organisation, state)
        existing = await uow.repo.report_for_period(number, period)
        if existing is not None and existing["status"] not in domain.REPORT_EDITABLE:
            raise Conflict(
                f"the {period} report of action {number} is {existing['status']} and can no longer be edited"
            )
        return await uow.repo.save_report(number, period, command.body, uow.actor.model_dump(mode="json"))


@dataclass(frozen=True)
class MoveReport:
    report_id: uuid.UUID
    verb: str  # submit, approve or return
    comment: str = ""


async def move_report(uow: Uow, command: MoveReport) -> Row:
    """submit (owner), approve or return (Coordination, return needs a comment)."""
    report_id, verb = command.report_id, command.verb
    async with uow:
        number = await uow.repo.report_action(report_id)
        if number is None:
            raise NotFound(f"no report {report_id}")
        state = await locked_action(uow, number)  # the action first, as every write to it
        current = await uow.repo.lock_report(report_id)
        assert current is not None, "reports are never deleted"
        domain.authorise_report(verb, uow.actor.role, uow.actor.organisation, state)
        new_status = domain.report_transition(str(report_id), current["status"], verb)
        if verb == "return" and not command.comment.strip():
            raise Conflict("a returned report needs a comment saying what to change")
        report = await uow.repo.set_report_status(
            report_id, new_status, command.comment if verb == "return" else current["comment"]
        )
        await record(uow, events.report_changed(report, current["status"]))
    return report
