"""Where the actions service's domain changes become contract events (one place, outbound)."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal
from typing import Any

from passerelle_contracts import SYSTEM_ACTOR, Actor, Envelope, EventData
from passerelle_contracts.actions_v1 import (
    TOPIC as TOPIC,
)
from passerelle_contracts.actions_v1 import (
    ActionDetailsChanged,
    ActionProgressUpdated,
    ActionRegistered,
    ActionStatusChanged,
    AgendaItem,
    AnnualReportPublished,
    DecisionRecorded,
    IndicatorDefined,
    IndicatorMeasured,
    MeetingHeld,
    MilestoneOverdue,
    MilestonePlanned,
    MilestoneReached,
    ReportApproved,
    ReportReturned,
    ReportSubmitted,
)
from passerelle_contracts.common import FieldChange

SOURCE = "actions"


def subject(action_number: int) -> str:
    return f"action-{action_number}"


def registered(action: dict[str, Any], axis: int, actor: Actor, correlation_id: uuid.UUID) -> Envelope:
    data = ActionRegistered(
        action_number=action["number"],
        axis=axis,
        chantier=action["chantier"],
        title_fr=action["title_fr"],
        title_nl=action["title_nl"],
        lead=action["lead"],
        partners=action["partners"],
        publics=action["publics"],
    )
    return Envelope.wrap(data, source=SOURCE, subject=subject(action["number"]), actor=actor, correlation_id=correlation_id)


def status_changed(
    action: dict[str, Any], previous: str, changes: list[FieldChange], actor: Actor, correlation_id: uuid.UUID
) -> Envelope:
    data = ActionStatusChanged(
        action_number=action["number"],
        title_fr=action["title_fr"],
        title_nl=action["title_nl"],
        status=action["status"],
        previous_status=previous,  # type: ignore[arg-type]
        traffic_light=action["traffic_light"],
        note=action["status_note"],
        changes=changes,
    )
    return Envelope.wrap(data, source=SOURCE, subject=subject(action["number"]), actor=actor, correlation_id=correlation_id)


def indicator_measured(
    indicator: dict[str, Any],
    *,
    value: Decimal,
    previous: Decimal,
    measured_on: Any,
    origin: str,
    cause: Envelope | None,
    actor: Actor,
    correlation_id: uuid.UUID,
) -> Envelope:
    data = IndicatorMeasured(
        action_number=indicator["action_number"],
        indicator_code=indicator["code"],
        indicator_name_fr=indicator["name_fr"],
        indicator_name_nl=indicator["name_nl"],
        unit=indicator["unit"],
        value=float(value),
        previous_value=float(previous),
        target=None if indicator["target"] is None else float(indicator["target"]),
        measured_on=measured_on,
        origin=origin,  # type: ignore[arg-type]
        source_event_id=str(cause.event_id) if cause else None,
        changes=[FieldChange(field="value", old=float(previous), new=float(value))],
    )
    return Envelope.wrap(
        data,
        source=SOURCE,
        subject=subject(indicator["action_number"]),
        actor=actor,
        correlation_id=correlation_id,
        causation_id=cause.event_id if cause else None,
    )




# --- the lifecycle events added with milestones, reports and governance -------------------------


def action_event(
    data: EventData, actor: Actor, correlation_id: uuid.UUID, causation_id: uuid.UUID | None = None
) -> Envelope:
    """An event about one action, keyed by the action so its events stay in order."""
    number = data.action_number  # type: ignore[attr-defined]
    return Envelope.wrap(
        data, source=SOURCE, subject=subject(number), actor=actor, correlation_id=correlation_id, causation_id=causation_id
    )


def changes(old: dict[str, Any], new: dict[str, Any]) -> list[FieldChange]:
    """Field-by-field difference of two flat dicts, as contract FieldChanges (lists joined)."""
    return [
        FieldChange(field=name, old=_flat(old.get(name)), new=_flat(new[name]))
        for name in new
        if _flat(old.get(name)) != _flat(new[name])
    ]


def _flat(value: Any) -> str | int | float | bool | None:
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, (date,)):
        return value.isoformat()
    return value  # type: ignore[no-any-return]


def details_changed(number: int, title_fr: str, diff: list[FieldChange], actor: Actor, correlation_id: uuid.UUID) -> Envelope:
    return action_event(ActionDetailsChanged(action_number=number, title_fr=title_fr, changes=diff), actor, correlation_id)


def progress_updated(
    number: int, title_fr: str, previous: Decimal, progress: Decimal, mode: str, actor: Actor,
    correlation_id: uuid.UUID, causation_id: uuid.UUID | None = None,
) -> Envelope:
    data = ActionProgressUpdated(
        action_number=number, title_fr=title_fr, progress=float(progress), previous_progress=float(previous), mode=mode,
        changes=[FieldChange(field="progress", old=float(previous), new=float(progress))],
    )
    return action_event(data, actor, correlation_id, causation_id)


def milestone_planned(m: dict[str, Any], diff: list[FieldChange], actor: Actor, correlation_id: uuid.UUID) -> Envelope:
    data = MilestonePlanned(
        action_number=m["action_number"], milestone_id=str(m["id"]), title_fr=m["title_fr"], title_nl=m["title_nl"],
        planned_on=m["planned_on"], changes=diff,
    )
    return action_event(data, actor, correlation_id)


def milestone_reached(m: dict[str, Any], actor: Actor, correlation_id: uuid.UUID) -> Envelope:
    data = MilestoneReached(
        action_number=m["action_number"], milestone_id=str(m["id"]), title_fr=m["title_fr"], title_nl=m["title_nl"],
        planned_on=m["planned_on"], reached_on=m["reached_on"],
        changes=[FieldChange(field="reached_on", old=None, new=m["reached_on"].isoformat())],
    )
    return action_event(data, actor, correlation_id)


def milestone_overdue(m: dict[str, Any], as_of: date, correlation_id: uuid.UUID) -> Envelope:
    data = MilestoneOverdue(
        action_number=m["action_number"], milestone_id=str(m["id"]), title_fr=m["title_fr"], title_nl=m["title_nl"],
        planned_on=m["planned_on"], as_of=as_of, days_overdue=(as_of - m["planned_on"]).days,
    )
    return action_event(data, SYSTEM_ACTOR, correlation_id)


def indicator_defined(i: dict[str, Any], diff: list[FieldChange], actor: Actor, correlation_id: uuid.UUID) -> Envelope:
    data = IndicatorDefined(
        action_number=i["action_number"], indicator_code=i["code"], name_fr=i["name_fr"], name_nl=i["name_nl"],
        unit=i["unit"], baseline=float(i["baseline"]), target=None if i["target"] is None else float(i["target"]),
        period=i["period"], changes=diff,
    )
    return action_event(data, actor, correlation_id)


REPORT_EVENTS = {"submitted": ReportSubmitted, "approved": ReportApproved, "returned": ReportReturned}


def report_changed(report: dict[str, Any], previous: str, actor: Actor, correlation_id: uuid.UUID) -> Envelope:
    diff = [FieldChange(field="status", old=previous, new=report["status"])]
    if report["status"] == "returned":
        diff.append(FieldChange(field="comment", old="", new=report["comment"]))
    data = REPORT_EVENTS[report["status"]](
        action_number=report["action_number"], report_id=str(report["id"]), period=report["period"],
        status=report["status"], previous_status=previous, comment=report["comment"], changes=diff,
    )
    return action_event(data, actor, correlation_id)


def meeting_held(meeting: dict[str, Any], actor: Actor, correlation_id: uuid.UUID) -> Envelope:
    data = MeetingHeld(
        meeting_id=str(meeting["id"]), kind=meeting["kind"], held_on=meeting["held_on"], attendees=meeting["attendees"],
        agenda=[AgendaItem(**item) for item in meeting["agenda"]],
    )
    return Envelope.wrap(data, source=SOURCE, subject=f"meeting-{meeting['id']}", actor=actor, correlation_id=correlation_id)


def decision_recorded(meeting: dict[str, Any], number: int, decision: str, actor: Actor, cause: Envelope) -> Envelope:
    data = DecisionRecorded(
        meeting_id=str(meeting["id"]), meeting_kind=meeting["kind"], held_on=meeting["held_on"], action_number=number,
        decision=decision,
    )
    return action_event(data, actor, cause.correlation_id, cause.event_id)


def annual_report_published(
    report_id: str, year: int, as_of: date, actions: int, by_status: dict[str, int], files: dict[str, str], actor: Actor,
    correlation_id: uuid.UUID,
) -> Envelope:
    data = AnnualReportPublished(
        report_id=report_id, year=year, as_of=as_of, actions=actions, by_status=by_status, files=files,  # type: ignore[arg-type]
    )
    return Envelope.wrap(data, source=SOURCE, subject=report_id, actor=actor, correlation_id=correlation_id)
