"""The actions service's outgoing events: domain changes -> contract models and their subjects.

One place, outbound: use cases build their events here and emit them with ``uow.emit`` (or
``handlers.aggregate.record`` for events about an action), which wraps them in envelopes.
"""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal
from typing import Any

from passerelle_contracts.actions_v1 import TOPIC as TOPIC
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
    MeetingCancelled,
    MeetingHeld,
    MeetingRescheduled,
    MeetingScheduled,
    MilestoneOverdue,
    MilestonePlanned,
    MilestoneReached,
    ReportApproved,
    ReportReturned,
    ReportSubmitted,
)
from passerelle_contracts.common import FieldChange

ActionEvent = (
    ActionRegistered
    | ActionStatusChanged
    | ActionDetailsChanged
    | ActionProgressUpdated
    | IndicatorDefined
    | IndicatorMeasured
    | MilestonePlanned
    | MilestoneReached
    | MilestoneOverdue
    | ReportSubmitted
    | ReportApproved
    | ReportReturned
    | DecisionRecorded
)
"""An event about one action: keyed by the action and kept in its history."""


def subject(action_number: int) -> str:
    """An action's events share its key, so they stay in order on the topic."""
    return f"action-{action_number}"


def meeting_subject(meeting_id: uuid.UUID) -> str:
    return f"meeting-{meeting_id}"


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
    if isinstance(value, date):
        return value.isoformat()
    return value


# --- the plan's actions -------------------------------------------------------------------------


def registered(action: dict[str, Any], axis: int) -> ActionRegistered:
    return ActionRegistered(
        action_number=action["number"],
        axis=axis,
        chantier=action["chantier"],
        title_fr=action["title_fr"],
        title_nl=action["title_nl"],
        lead=action["lead"],
        partners=action["partners"],
        publics=action["publics"],
    )


def status_changed(action: dict[str, Any], previous: str, diff: list[FieldChange]) -> ActionStatusChanged:
    return ActionStatusChanged(
        action_number=action["number"],
        title_fr=action["title_fr"],
        title_nl=action["title_nl"],
        status=action["status"],
        previous_status=previous,
        traffic_light=action["traffic_light"],
        note=action["status_note"],
        changes=diff,
    )


def details_changed(number: int, title_fr: str, diff: list[FieldChange]) -> ActionDetailsChanged:
    return ActionDetailsChanged(action_number=number, title_fr=title_fr, changes=diff)


def progress_updated(
    number: int, title_fr: str, previous: Decimal, progress: Decimal, mode: str
) -> ActionProgressUpdated:
    return ActionProgressUpdated(
        action_number=number,
        title_fr=title_fr,
        progress=float(progress),
        previous_progress=float(previous),
        mode=mode,
        changes=[FieldChange(field="progress", old=float(previous), new=float(progress))],
    )


# --- indicators ---------------------------------------------------------------------------------


def indicator_defined(i: dict[str, Any], diff: list[FieldChange]) -> IndicatorDefined:
    return IndicatorDefined(
        action_number=i["action_number"],
        indicator_code=i["code"],
        name_fr=i["name_fr"],
        name_nl=i["name_nl"],
        unit=i["unit"],
        baseline=float(i["baseline"]),
        target=None if i["target"] is None else float(i["target"]),
        period=i["period"],
        changes=diff,
    )


def indicator_measured(
    indicator: dict[str, Any],
    *,
    value: Decimal,
    previous: Decimal,
    measured_on: date,
    origin: str,
    source_event_id: uuid.UUID | None = None,
) -> IndicatorMeasured:
    """``source_event_id``: the event a derived measurement counts (None for a person's)."""
    return IndicatorMeasured(
        action_number=indicator["action_number"],
        indicator_code=indicator["code"],
        indicator_name_fr=indicator["name_fr"],
        indicator_name_nl=indicator["name_nl"],
        unit=indicator["unit"],
        value=float(value),
        previous_value=float(previous),
        target=None if indicator["target"] is None else float(indicator["target"]),
        measured_on=measured_on,
        origin=origin,
        source_event_id=None if source_event_id is None else str(source_event_id),
        changes=[FieldChange(field="value", old=float(previous), new=float(value))],
    )


# --- milestones and progress reports ------------------------------------------------------------


def milestone_planned(m: dict[str, Any], diff: list[FieldChange]) -> MilestonePlanned:
    return MilestonePlanned(
        action_number=m["action_number"],
        milestone_id=str(m["id"]),
        title_fr=m["title_fr"],
        title_nl=m["title_nl"],
        planned_on=m["planned_on"],
        changes=diff,
    )


def milestone_reached(m: dict[str, Any]) -> MilestoneReached:
    return MilestoneReached(
        action_number=m["action_number"],
        milestone_id=str(m["id"]),
        title_fr=m["title_fr"],
        title_nl=m["title_nl"],
        planned_on=m["planned_on"],
        reached_on=m["reached_on"],
        changes=[FieldChange(field="reached_on", old=None, new=m["reached_on"].isoformat())],
    )


def milestone_overdue(m: dict[str, Any], as_of: date) -> MilestoneOverdue:
    return MilestoneOverdue(
        action_number=m["action_number"],
        milestone_id=str(m["id"]),
        title_fr=m["title_fr"],
        title_nl=m["title_nl"],
        planned_on=m["planned_on"],
        as_of=as_of,
        days_overdue=(as_of - m["planned_on"]).days,
    )


REPORT_EVENTS: dict[str, type[ReportSubmitted | ReportApproved | ReportReturned]] = {
    "submitted": ReportSubmitted,
    "approved": ReportApproved,
    "returned": ReportReturned,
}


def report_changed(report: dict[str, Any], previous: str) -> ReportSubmitted | ReportApproved | ReportReturned:
    diff = [FieldChange(field="status", old=previous, new=report["status"])]
    if report["status"] == "returned":
        diff.append(FieldChange(field="comment", old="", new=report["comment"]))
    return REPORT_EVENTS[report["status"]](
        action_number=report["action_number"],
        report_id=str(report["id"]),
        period=report["period"],
        status=report["status"],
        previous_status=previous,
        comment=report["comment"],
        changes=diff,
    )


# --- governance and the annual report -----------------------------------------------------------


def meeting_scheduled(meeting: dict[str, Any]) -> MeetingScheduled:
    return MeetingScheduled(**_schedule(meeting))


def meeting_rescheduled(meeting: dict[str, Any], diff: list[FieldChange]) -> MeetingRescheduled:
    return MeetingRescheduled(**_schedule(meeting), changes=diff)


def _schedule(meeting: dict[str, Any]) -> dict[str, Any]:
    return {
        "meeting_id": str(meeting["id"]),
        "kind": meeting["kind"],
        "starts_at": meeting["starts_at"],
        "ends_at": meeting["ends_at"],
        "location": meeting["location"],
        "agenda": [AgendaItem(**item) for item in meeting["agenda"]],
        "invited": meeting["invited"],
    }


def meeting_cancelled(meeting: dict[str, Any]) -> MeetingCancelled:
    return MeetingCancelled(
        meeting_id=str(meeting["id"]),
        kind=meeting["kind"],
        starts_at=meeting["starts_at"],
        reason=meeting["cancellation_reason"],
        invited=meeting["invited"],
    )


def meeting_held(meeting: dict[str, Any]) -> MeetingHeld:
    """``absent`` and ``minutes`` are empty for a meeting recorded after the fact (``POST /meetings``)."""
    return MeetingHeld(
        meeting_id=str(meeting["id"]),
        kind=meeting["kind"],
        held_on=meeting["held_on"],
        attendees=meeting["attendees"],
        agenda=[AgendaItem(**item) for item in meeting["agenda"]],
        absent=meeting["absent"],
        minutes=meeting["minutes"],
    )


def decision_recorded(meeting: dict[str, Any], number: int, decision: str) -> DecisionRecorded:
    return DecisionRecorded(
        meeting_id=str(meeting["id"]),
        meeting_kind=meeting["kind"],
        held_on=meeting["held_on"],
        action_number=number,
        decision=decision,
    )


def annual_report_published(
    report_id: str, year: int, as_of: date, actions: int, by_status: dict[str, int], files: dict[str, str]
) -> AnnualReportPublished:
    """Its subject is ``report_id`` (``annual-report-<year>-as-of-<date>``)."""
    return AnnualReportPublished(
        report_id=report_id,
        year=year,
        as_of=as_of,
        actions=actions,
        by_status=by_status,
        files=files,
    )
