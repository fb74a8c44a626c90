"""The plan's read model from the actions service's events: what its pages show must be what the
actions service's API says, whatever order events of different things arrive in."""

from __future__ import annotations

from datetime import UTC, date, datetime

import asyncpg
from passerelle_contracts import Actor, Envelope
from passerelle_contracts.actions_v1 import (
    ActionDetailsChanged,
    ActionProgressUpdated,
    ActionRegistered,
    ActionStatusChanged,
    DecisionRecorded,
    IndicatorDefined,
    IndicatorMeasured,
    MeetingHeld,
    MeetingScheduled,
    MilestoneOverdue,
    MilestonePlanned,
    MilestoneReached,
)
from passerelle_contracts.common import FieldChange
from passerelle_contracts.envelope import EventData

from services.dashboard.pages import plan
from tests.integration.dashboard.conftest import apply

AS_OF = date(2026, 11, 30)
COORDINATION = Actor(organisation="coordination-inclusion-numerique", role="coordination")


def wrap(data: EventData, subject: str = "action-12") -> tuple[Envelope, EventData]:
    return Envelope.wrap(data, source="actions", subject=subject, actor=COORDINATION), data


def registered(number: int = 12, partners: list[str] | None = None) -> tuple[Envelope, EventData]:
    return wrap(
        ActionRegistered(
            action_number=number,
            axis=1,
            chantier=2,
            title_fr=f"Action {number}",
            title_nl=f"Actie {number}",
            lead="bruxelles-formation",
            partners=partners or ["actiris"],
        ),
        f"action-{number}",
    )


def measured(value: float, on: date, previous: float = 0) -> tuple[Envelope, EventData]:
    return wrap(
        IndicatorMeasured(
            action_number=12,
            indicator_code="a12-meetings",
            indicator_name_fr="Réunions",
            unit="count",
            value=value,
            previous_value=previous,
            measured_on=on,
            origin="manual",
            changes=[],
        )
    )


async def test_an_action_s_status_progress_and_partners_are_the_latest_word(pool: asyncpg.Pool) -> None:
    await apply(
        pool,
        [
            registered(),
            wrap(
                ActionStatusChanged(
                    action_number=12,
                    title_fr="Action 12",
                    status="in_progress",
                    previous_status="not_started",
                    traffic_light="at_risk",
                    changes=[],
                )
            ),
            wrap(
                ActionProgressUpdated(
                    action_number=12, title_fr="Action 12", progress=40, previous_progress=0, mode="manual", changes=[]
                )
            ),
            # The actions service flattens a list in a change to "a, b" (services/actions/events.py).
            wrap(
                ActionDetailsChanged(
                    action_number=12,
                    title_fr="Action 12",
                    changes=[FieldChange(field="partners", old="actiris", new="actiris, caban")],
                )
            ),
        ],
    )

    f = await plan.figures(pool, AS_OF)

    (action,) = f["actions"]
    assert (action["status"], action["traffic_light"], action["progress"]) == ("in_progress", "at_risk", 40)
    assert action["partners"] == ["actiris", "caban"]
    assert f["by_status"] == {"in_progress": 1}


async def test_a_yearly_indicator_keeps_its_latest_year_s_value_when_an_earlier_year_is_measured_late(
    pool: asyncpg.Pool,
) -> None:
    defined = IndicatorDefined(
        action_number=12, indicator_code="a12-meetings", name_fr="Réunions", unit="count", baseline=0,
        period="yearly", changes=[],
    )  # fmt: skip
    await apply(pool, [registered(), wrap(defined), measured(3, date(2026, 3, 1)), measured(5, date(2025, 12, 1), 4)])

    (indicator,) = (await plan.figures(pool, AS_OF))["indicators"]

    assert (indicator["value"], indicator["measured_on"]) == (3, "2026-03-01"), "domain.moves_current"
    assert [v for _, v in indicator["history"]] == [5, 3], "the late measurement is in the history, by date"


async def test_milestones_overdue_are_those_not_reached_by_their_planned_day(pool: asyncpg.Pool) -> None:
    def milestone(cls: type, id_: str, planned: date, **more: object) -> tuple[Envelope, EventData]:
        data = cls(action_number=12, milestone_id=id_, title_fr=id_, planned_on=planned, **more)
        return wrap(data)

    await apply(
        pool,
        [
            registered(),
            milestone(MilestonePlanned, "m-late", date(2026, 10, 1), changes=[]),
            milestone(MilestoneOverdue, "m-late", date(2026, 10, 1), as_of=date(2026, 10, 2), days_overdue=1),
            milestone(MilestonePlanned, "m-done", date(2026, 9, 1), changes=[]),
            milestone(MilestoneReached, "m-done", date(2026, 9, 1), reached_on=date(2026, 9, 3), changes=[]),
            milestone(MilestonePlanned, "m-next", date(2026, 12, 15), changes=[]),
        ],
    )

    f = await plan.figures(pool, AS_OF)

    assert [m["id"] for m in f["overdue_milestones"]] == ["m-late"]


async def test_a_decision_before_its_meeting_s_minutes_leaves_the_meeting_held_and_the_next_one_is_shown(
    pool: asyncpg.Pool,
) -> None:
    held_on = date(2026, 10, 20)
    await apply(
        pool,
        [
            registered(),
            wrap(
                DecisionRecorded(
                    meeting_id="wg-1", meeting_kind="working_group", held_on=held_on, action_number=12, decision="Go"
                ),
                "meeting-wg-1",
            ),
            wrap(
                MeetingHeld(meeting_id="wg-1", kind="working_group", held_on=held_on, attendees=["actiris"], agenda=[]),
                "meeting-wg-1",
            ),
            wrap(
                MeetingScheduled(
                    meeting_id="wg-2",
                    kind="working_group",
                    starts_at=datetime(2026, 12, 10, 9, 0, tzinfo=UTC),
                    location="online",
                    agenda=[],
                ),
                "meeting-wg-2",
            ),
        ],
    )

    f = await plan.figures(pool, AS_OF)

    assert [m["id"] for m in f["next_meetings"]] == ["wg-2"]
    assert f["since_meeting"]["since"] == held_on.isoformat()
