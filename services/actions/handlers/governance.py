"""Governance: Working Group and COPIL meetings, and their decisions as outcomes on actions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from services.runtime.errors import Forbidden, Invalid
from services.runtime.inputs import check_happened
from services.runtime.uow import Context

from .. import events
from ..sql import Row
from .aggregate import Uow, locked_action, record
from .indicators import RecordDerivedMeasurements, record_derived_measurements


@dataclass(frozen=True)
class RecordMeeting:
    kind: str
    held_on: date
    attendees: list[str]
    agenda: list[dict[str, Any]]  # {"action_number": int | None, "title": str}
    decisions: list[tuple[int, str]]  # (action number, decision)


async def record_meeting(uow: Uow, command: RecordMeeting) -> Row:
    """Record a meeting held and its decisions on actions (each caused by the meeting), and count it
    in the indicators its mapping names (Working Group meetings for action 21: data, not code)."""
    if uow.actor.role != "coordination":
        raise Forbidden(f"only the Coordination records meetings, not {uow.actor.organisation} ({uow.actor.role})")
    check_happened(command.held_on, "held_on")  # a meeting recorded is one that was held
    async with uow:
        unknown = await uow.repo.unknown_organisations(command.attendees)
        if unknown:
            raise Invalid(f"unknown organisations among the attendees: {', '.join(unknown)}")
        for number in sorted({n for n, _ in command.decisions}):  # in one order: two meetings never deadlock
            await locked_action(uow, number)
        meeting = await uow.repo.insert_meeting(
            command.kind,
            command.held_on,
            sorted(set(command.attendees)),
            command.agenda,
            uow.actor.model_dump(mode="json"),
        )
        held = uow.emit(events.meeting_held(meeting), events.meeting_subject(meeting["id"]))
        for number, decision in command.decisions:
            await uow.repo.insert_decision(meeting["id"], number, decision)
            await record(
                uow, events.decision_recorded(meeting, number, decision), context=Context.caused_by(held, uow.actor)
            )
        await record_derived_measurements(uow, RecordDerivedMeasurements(held, held.data, command.held_on))
    return {**meeting, "decisions": [{"action_number": n, "decision": d} for n, d in command.decisions]}
