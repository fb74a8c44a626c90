"""The plan's read model (topic ``passerelle.actions.v1``): actions with their status, traffic light,
progress and owners; indicators with their history; milestones; meetings; reports."""

from __future__ import annotations

from passerelle_contracts import Envelope
from passerelle_contracts.actions_v1 import (
    ActionDetailsChanged,
    ActionProgressUpdated,
    ActionRegistered,
    ActionStatusChanged,
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

from services.runtime.db import Executor

from . import Projections

# The fields of ActionDetailsChanged's changes this model keeps.
_DETAILS = {"title_fr": "title_fr", "title_nl": "title_nl", "lead": "lead"}


async def action_registered(db: Executor, envelope: Envelope, data: ActionRegistered) -> None:
    await db.execute(
        """INSERT INTO plan_actions (number, axis, chantier, title_fr, title_nl, lead, partners, status, updated_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
           ON CONFLICT (number) DO UPDATE SET axis = EXCLUDED.axis, chantier = EXCLUDED.chantier,
               title_fr = EXCLUDED.title_fr, title_nl = EXCLUDED.title_nl, lead = EXCLUDED.lead,
               partners = EXCLUDED.partners""",
        data.action_number,
        data.axis,
        data.chantier,
        data.title_fr,
        data.title_nl,
        data.lead,
        list(data.partners),
        data.status,
        envelope.occurred_at,
    )


def _codes(value: object) -> list[str]:
    """A list of codes as a change carries it: flattened to "a, b" by the actions service (``_flat``)."""
    if isinstance(value, list):
        return [str(v).strip() for v in value if str(v).strip()]
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return []


async def action_details_changed(db: Executor, envelope: Envelope, data: ActionDetailsChanged) -> None:
    for change in data.changes:
        if change.field == "partners":
            await db.execute(
                "UPDATE plan_actions SET partners = $2 WHERE number = $1", data.action_number, _codes(change.new)
            )
        column = _DETAILS.get(change.field)
        if column is not None and isinstance(change.new, str):
            await db.execute(
                f"UPDATE plan_actions SET {column} = $2 WHERE number = $1",  # noqa: S608 - a name of _DETAILS
                data.action_number,
                change.new,
            )


async def action_status_changed(db: Executor, envelope: Envelope, data: ActionStatusChanged) -> None:
    await db.execute(
        """UPDATE plan_actions SET status = $2, traffic_light = COALESCE($3, traffic_light), updated_at = $4
           WHERE number = $1""",
        data.action_number,
        data.status,
        data.traffic_light,
        envelope.occurred_at,
    )


async def action_progress_updated(db: Executor, envelope: Envelope, data: ActionProgressUpdated) -> None:
    await db.execute(
        "UPDATE plan_actions SET progress = $2, updated_at = $3 WHERE number = $1",
        data.action_number,
        data.progress,
        envelope.occurred_at,
    )


async def indicator_defined(db: Executor, envelope: Envelope, data: IndicatorDefined) -> None:
    await db.execute(
        """INSERT INTO plan_indicators (code, action_number, name_fr, name_nl, unit, baseline, target, period)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
           ON CONFLICT (code) DO UPDATE SET action_number = EXCLUDED.action_number, name_fr = EXCLUDED.name_fr,
               name_nl = EXCLUDED.name_nl, unit = EXCLUDED.unit, baseline = EXCLUDED.baseline,
               target = EXCLUDED.target, period = EXCLUDED.period""",
        data.indicator_code,
        data.action_number,
        data.name_fr,
        data.name_nl,
        data.unit,
        data.baseline,
        data.target,
        data.period,
    )


async def indicator_measured(db: Executor, envelope: Envelope, data: IndicatorMeasured) -> None:
    # The measurement carries the indicator's value after it, and becomes its current value as the
    # actions service decides (``domain.moves_current``): a yearly indicator's current value is its
    # latest year's, so a late measurement of an earlier year counts in its year's history only.
    await db.execute(
        """INSERT INTO plan_indicators (code, action_number, name_fr, name_nl, unit, target, value, measured_on)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
           ON CONFLICT (code) DO UPDATE SET
               value = CASE WHEN plan_indicators.period <> 'yearly' OR plan_indicators.measured_on IS NULL
                              OR extract(year FROM EXCLUDED.measured_on) >= extract(year FROM plan_indicators.measured_on)
                            THEN EXCLUDED.value ELSE plan_indicators.value END,
               measured_on = CASE WHEN plan_indicators.period <> 'yearly' OR plan_indicators.measured_on IS NULL
                              OR extract(year FROM EXCLUDED.measured_on) >= extract(year FROM plan_indicators.measured_on)
                            THEN EXCLUDED.measured_on ELSE plan_indicators.measured_on END,
               target = COALESCE(EXCLUDED.target, plan_indicators.target)""",
        data.indicator_code,
        data.action_number,
        data.indicator_name_fr,
        data.indicator_name_nl,
        data.unit,
        data.target,
        data.value,
        data.measured_on,
    )
    await db.execute(
        """INSERT INTO plan_indicator_points (event_id, code, measured_on, value, occurred_at)
           VALUES ($1, $2, $3, $4, $5) ON CONFLICT (event_id) DO NOTHING""",
        envelope.event_id,
        data.indicator_code,
        data.measured_on,
        data.value,
        envelope.occurred_at,
    )


async def milestone_planned(db: Executor, envelope: Envelope, data: MilestonePlanned) -> None:
    await db.execute(
        """INSERT INTO plan_milestones (id, action_number, title_fr, title_nl, planned_on) VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (id) DO UPDATE SET title_fr = EXCLUDED.title_fr, title_nl = EXCLUDED.title_nl,
               planned_on = EXCLUDED.planned_on,
               overdue_as_of = CASE WHEN EXCLUDED.planned_on > plan_milestones.planned_on
                                    THEN NULL ELSE plan_milestones.overdue_as_of END""",
        data.milestone_id,
        data.action_number,
        data.title_fr,
        data.title_nl,
        data.planned_on,
    )


async def milestone_reached(db: Executor, envelope: Envelope, data: MilestoneReached) -> None:
    await db.execute(
        """INSERT INTO plan_milestones (id, action_number, title_fr, title_nl, planned_on, reached_on)
           VALUES ($1, $2, $3, $4, $5, $6)
           ON CONFLICT (id) DO UPDATE SET reached_on = EXCLUDED.reached_on""",
        data.milestone_id,
        data.action_number,
        data.title_fr,
        data.title_nl,
        data.planned_on,
        data.reached_on,
    )


async def milestone_overdue(db: Executor, envelope: Envelope, data: MilestoneOverdue) -> None:
    await db.execute(
        """INSERT INTO plan_milestones (id, action_number, title_fr, title_nl, planned_on, overdue_as_of)
           VALUES ($1, $2, $3, $4, $5, $6)
           ON CONFLICT (id) DO UPDATE SET overdue_as_of = EXCLUDED.overdue_as_of""",
        data.milestone_id,
        data.action_number,
        data.title_fr,
        data.title_nl,
        data.planned_on,
        data.as_of,
    )


async def meeting_planned(db: Executor, envelope: Envelope, data: MeetingScheduled | MeetingRescheduled) -> None:
    await db.execute(
        """INSERT INTO plan_meetings (id, kind, starts_at, status) VALUES ($1, $2, $3, 'scheduled')
           ON CONFLICT (id) DO UPDATE SET kind = EXCLUDED.kind, starts_at = EXCLUDED.starts_at,
               status = CASE WHEN plan_meetings.status = 'held' THEN 'held' ELSE 'scheduled' END""",
        data.meeting_id,
        data.kind,
        data.starts_at,
    )


async def meeting_cancelled(db: Executor, envelope: Envelope, data: MeetingCancelled) -> None:
    await db.execute(
        """INSERT INTO plan_meetings (id, kind, starts_at, status) VALUES ($1, $2, $3, 'cancelled')
           ON CONFLICT (id) DO UPDATE SET status = 'cancelled'""",
        data.meeting_id,
        data.kind,
        data.starts_at,
    )


async def meeting_held(db: Executor, envelope: Envelope, data: MeetingHeld) -> None:
    await db.execute(
        """INSERT INTO plan_meetings (id, kind, held_on, status) VALUES ($1, $2, $3, 'held')
           ON CONFLICT (id) DO UPDATE SET held_on = EXCLUDED.held_on, status = 'held'""",
        data.meeting_id,
        data.kind,
        data.held_on,
    )


async def decision_recorded(db: Executor, envelope: Envelope, data: DecisionRecorded) -> None:
    """A decision is of a meeting held, even if its ``MeetingHeld`` (another key, another partition)
    comes later; the decisions themselves are read from the feed."""
    await db.execute(
        """INSERT INTO plan_meetings (id, kind, held_on, status) VALUES ($1, $2, $3, 'held')
           ON CONFLICT (id) DO NOTHING""",
        data.meeting_id,
        data.meeting_kind,
        data.held_on,
    )


async def report_moved(
    db: Executor, envelope: Envelope, data: ReportSubmitted | ReportApproved | ReportReturned
) -> None:
    await db.execute(
        """INSERT INTO plan_reports (id, action_number, period, status) VALUES ($1, $2, $3, $4)
           ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status""",
        data.report_id,
        data.action_number,
        data.period,
        data.status,
    )


TABLES = (
    "plan_actions",
    "plan_indicators",
    "plan_indicator_points",
    "plan_milestones",
    "plan_meetings",
    "plan_reports",
)

PROJECTIONS: Projections = {
    "ActionRegistered": (action_registered,),
    "ActionDetailsChanged": (action_details_changed,),
    "ActionStatusChanged": (action_status_changed,),
    "ActionProgressUpdated": (action_progress_updated,),
    "IndicatorDefined": (indicator_defined,),
    "IndicatorMeasured": (indicator_measured,),
    "MilestonePlanned": (milestone_planned,),
    "MilestoneReached": (milestone_reached,),
    "MilestoneOverdue": (milestone_overdue,),
    "MeetingScheduled": (meeting_planned,),
    "MeetingRescheduled": (meeting_planned,),
    "MeetingCancelled": (meeting_cancelled,),
    "MeetingHeld": (meeting_held,),
    "DecisionRecorded": (decision_recorded,),
    "ReportSubmitted": (report_moved,),
    "ReportApproved": (report_moved,),
    "ReportReturned": (report_moved,),
}
