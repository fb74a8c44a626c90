"""Governance: Working Group and COPIL meetings, scheduled, changed, cancelled or held, and their
decisions as outcomes on actions. Only the Coordination convenes and records meetings.

A meeting's events share its subject (``meeting-<id>``), and every use case that changes a
meeting locks its row first: they reach the topic in the order they happened. Whether a meeting is
recorded after the fact (``record_meeting``) or held after it was scheduled
(``record_meeting_held``), the same steps announce it (``_announce_held``): ``MeetingHeld``, a
``DecisionRecorded`` per decision caused by it, and its count in the indicators its mapping names
(Working Group meetings for action 21: data, not code). Scheduled and cancelled meetings count for
nothing: no mapping names their events."""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from services.runtime.errors import Forbidden, Invalid, NotFound
from services.runtime.inputs import check_happened
from services.runtime.uow import Context, once

from .. import events
from ..domain import meetings
from ..sql import Row
from .aggregate import Uow, locked_action, record
from .indicators import RecordDerivedMeasurements, record_derived_measurements

Agenda = list[dict[str, Any]]  # {"action_number": int | None, "title": str}
Decisions = list[tuple[int, str]]  # (action number, decision)


@dataclass(frozen=True)
class RecordMeeting:
    kind: str
    held_on: date
    attendees: list[str]
    agenda: Agenda
    decisions: Decisions


async def record_meeting(uow: Uow, command: RecordMeeting) -> Row:
    """Record a meeting held (not scheduled here before) and its decisions on actions."""
    _coordination_only(uow, "records meetings")
    check_happened(command.held_on, "held_on")  # a meeting recorded is one that was held
    async with uow:
        await _check_known(uow, command.attendees, "attendees")
        await _lock_actions(uow, command.decisions)
        meeting = await uow.repo.insert_meeting(
            command.kind,
            command.held_on,
            sorted(set(command.attendees)),
            command.agenda,
            uow.actor.model_dump(mode="json"),
        )
        await _announce_held(uow, meeting, command.decisions)
    return _with_decisions(meeting, command.decisions)


@dataclass(frozen=True)
class ScheduleMeeting:
    kind: str
    starts_at: datetime
    ends_at: datetime | None
    location: str
    agenda: Agenda
    invited: list[str]  # organisations invited besides the members of the meeting's body
    idempotency_key: str | None = None


async def schedule_meeting(uow: Uow, command: ScheduleMeeting) -> tuple[Row, bool]:
    """Convene a meeting: (the meeting, created). A repetition with the same Idempotency-Key gets
    the first meeting back, and nothing is scheduled or announced again."""
    _coordination_only(uow, "schedules meetings")
    meetings.check_times(command.starts_at, command.ends_at, datetime.now(UTC))

    async def schedule() -> Row:
        await _check_known(uow, command.invited, "guests invited")
        meeting = await uow.repo.schedule_meeting(
            command.kind,
            command.starts_at,
            command.ends_at,
            command.location,
            command.agenda,
            sorted(set(command.invited)),
            uow.actor.model_dump(mode="json"),
        )
        uow.emit(events.meeting_scheduled(meeting), events.meeting_subject(meeting["id"]))
        return _with_decisions(meeting, [])

    return await once(uow, "POST /meetings/planned", command.idempotency_key, _request(command), schedule)


@dataclass(frozen=True)
class RescheduleMeeting:
    meeting_id: uuid.UUID
    values: dict[str, Any]  # some of domain.meetings.SCHEDULE_FIELDS: only those given change


async def reschedule_meeting(uow: Uow, command: RescheduleMeeting) -> Row:
    """Change a scheduled meeting's date, place, agenda or guests; ``MeetingRescheduled`` says what
    changed. Nothing changed: no event (the reply's ``changes`` is empty)."""
    _coordination_only(uow, "re-schedules meetings")
    async with uow:
        meeting = await _locked_meeting(uow, command.meeting_id)
        meetings.check_open(meeting, "re-scheduled")
        if "invited" in command.values:
            await _check_known(uow, command.values["invited"], "guests invited")
        schedule, diff = meetings.reschedule(meeting, command.values, datetime.now(UTC))
        if diff:
            meeting = await uow.repo.reschedule_meeting(command.meeting_id, schedule)
            uow.emit(events.meeting_rescheduled(meeting, diff), events.meeting_subject(meeting["id"]))
    return {**_with_decisions(meeting, []), "changes": [c.model_dump() for c in diff]}


@dataclass(frozen=True)
class CancelMeeting:
    meeting_id: uuid.UUID
    reason: str = ""


async def cancel_meeting(uow: Uow, command: CancelMeeting) -> Row:
    """A scheduled meeting will not be held (``MeetingCancelled``); it stays listed, cancelled."""
    _coordination_only(uow, "cancels meetings")
    async with uow:
        meeting = await _locked_meeting(uow, command.meeting_id)
        meetings.check_open(meeting, "cancelled")
        meeting = await uow.repo.cancel_meeting(command.meeting_id, command.reason)
        uow.emit(events.meeting_cancelled(meeting), events.meeting_subject(meeting["id"]))
    return _with_decisions(meeting, [])


@dataclass(frozen=True)
class RecordMeetingHeld:
    meeting_id: uuid.UUID
    attendees: list[str]
    decisions: Decisions
    minutes: str = ""
    held_on: date | None = None  # default: the day it was scheduled to start, in Brussels
    agenda: Agenda | None = None  # default: the agenda it was convened with
    idempotency_key: str | None = None


async def record_meeting_held(uow: Uow, command: RecordMeetingHeld) -> tuple[Row, bool]:
    """Record that a scheduled meeting was held, once: its attendees, the organisations convened
    that did not attend (``domain.meetings.absent``), its minutes and its decisions, announced as a
    meeting recorded after the fact is, under the meeting's own id. (the meeting, created): a
    repetition with the same Idempotency-Key gets the first reply back."""
    _coordination_only(uow, "records meetings")

    async def hold() -> Row:
        meeting = await _locked_meeting(uow, command.meeting_id)
        meetings.check_open(meeting, "recorded held")
        held_on = command.held_on or meetings.held_day(meeting["starts_at"])
        check_happened(held_on, "held_on")
        await _check_known(uow, command.attendees, "attendees")
        await _lock_actions(uow, command.decisions)
        attendees = sorted(set(command.attendees))
        members = await uow.repo.convened_members(meeting["kind"])
        held = await uow.repo.mark_meeting_held(
            command.meeting_id,
            held_on,
            attendees,
            meetings.absent(members, meeting["invited"], attendees),
            meeting["agenda"] if command.agenda is None else command.agenda,
            command.minutes,
        )
        await _announce_held(uow, held, command.decisions)
        return _with_decisions(held, command.decisions)

    scope = "POST /meetings/{meeting_id}/minutes"
    return await once(uow, scope, command.idempotency_key, _request(command), hold)


# --- shared steps ---------------------------------------------------------------------------------


async def _announce_held(uow: Uow, meeting: Row, decisions: Decisions) -> None:
    """``MeetingHeld``, then each decision (kept, and recorded on its action, caused by the
    meeting), then the meeting's count in the indicators its mapping names."""
    held = uow.emit(events.meeting_held(meeting), events.meeting_subject(meeting["id"]))
    for number, decision in decisions:
        await uow.repo.insert_decision(meeting["id"], number, decision)
        await record(
            uow, events.decision_recorded(meeting, number, decision), context=Context.caused_by(held, uow.actor)
        )
    await record_derived_measurements(uow, RecordDerivedMeasurements(held, held.data, meeting["held_on"]))


def _coordination_only(uow: Uow, what: str) -> None:
    if uow.actor.role != "coordination":
        raise Forbidden(f"only the Coordination {what}, not {uow.actor.organisation} ({uow.actor.role})")


async def _check_known(uow: Uow, codes: list[str], who: str) -> None:
    unknown = await uow.repo.unknown_organisations(codes)
    if unknown:
        raise Invalid(f"unknown organisations among the {who}: {', '.join(unknown)}")


async def _lock_actions(uow: Uow, decisions: Decisions) -> None:
    for number in sorted({n for n, _ in decisions}):  # in one order: two meetings never deadlock
        await locked_action(uow, number)


async def _locked_meeting(uow: Uow, meeting_id: uuid.UUID) -> Row:
    meeting = await uow.repo.lock_meeting(meeting_id)
    if meeting is None:
        raise NotFound(f"no meeting {meeting_id}")
    return meeting


def _with_decisions(meeting: Row, decisions: Decisions) -> Row:
    return {**meeting, "decisions": [{"action_number": n, "decision": d} for n, d in decisions]}


def _request(command: ScheduleMeeting | RecordMeetingHeld) -> dict[str, Any]:
    """What an Idempotency-Key's repetitions must repeat: the command, less the key."""
    return {k: v for k, v in dataclasses.asdict(command).items() if k != "idempotency_key"}
