"""The repository's contract, part 3: meetings scheduled, re-scheduled, cancelled or held once
(migration 0007), listed by their day, and counted in the annual report once recorded held."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import pytest

from tests.integration.actions_repository.given import COORDINATION

pytestmark = pytest.mark.infra

BRUSSELS = ZoneInfo("Europe/Brussels")
RECORDED_BY = COORDINATION.model_dump(mode="json")
AGENDA = [{"action_number": 1, "title": "Matériel"}, {"action_number": None, "title": "Divers"}]
MARCH = datetime(2024, 3, 12, 9, 30, tzinfo=BRUSSELS)


async def schedule(repo: Any, starts_at: datetime = MARCH, kind: str = "working_group") -> dict[str, Any]:
    row: dict[str, Any] = await repo.schedule_meeting(
        kind, starts_at, starts_at + timedelta(hours=2), "Rue Royale 2-4, salle 3", AGENDA, ["actiris"], RECORDED_BY
    )
    return row


async def test_a_meeting_is_scheduled_rescheduled_and_held_under_one_id(planned: Any) -> None:
    meeting = await schedule(planned)
    assert {k: meeting[k] for k in meeting if k not in ("id", "recorded_at", "updated_at")} == {
        "kind": "working_group",
        "status": "scheduled",
        "starts_at": MARCH,
        "ends_at": MARCH + timedelta(hours=2),
        "location": "Rue Royale 2-4, salle 3",
        "agenda": AGENDA,
        "invited": ["actiris"],
        "held_on": None,
        "attendees": [],
        "absent": [],
        "minutes": "",
        "cancellation_reason": "",
    }
    assert meeting["starts_at"].utcoffset() == timedelta(0), "a timestamptz comes back in UTC"
    meeting_id = meeting["id"]
    assert (await planned.lock_meeting(meeting_id))["status"] == "scheduled"
    assert await planned.lock_meeting(uuid.uuid4()) is None

    later = MARCH + timedelta(days=2)
    moved = await planned.reschedule_meeting(
        meeting_id,
        {"starts_at": later, "ends_at": None, "location": "En ligne", "agenda": [], "invited": ["actiris", "caban"]},
    )
    assert (moved["starts_at"], moved["ends_at"], moved["location"], moved["agenda"], moved["invited"]) == (
        later,
        None,
        "En ligne",
        [],
        ["actiris", "caban"],
    )

    held = await planned.mark_meeting_held(
        meeting_id, date(2024, 3, 14), ["caban", "coordination"], ["actiris"], AGENDA, "Bilan validé."
    )
    assert (held["id"], held["status"], held["held_on"], held["attendees"], held["absent"], held["minutes"]) == (
        meeting_id,
        "held",
        date(2024, 3, 14),
        ["caban", "coordination"],
        ["actiris"],
        "Bilan validé.",
    )
    await planned.insert_decision(meeting_id, 1, "Lancer l'appel.")
    found = await planned.meeting(meeting_id)
    assert found == {**held, "decisions": [{"action_number": 1, "decision": "Lancer l'appel."}]}
    assert await planned.meeting(uuid.uuid4()) is None

    for step in (
        planned.mark_meeting_held(meeting_id, date(2024, 3, 14), [], [], [], ""),
        planned.cancel_meeting(meeting_id, "Trop tard"),
        planned.reschedule_meeting(meeting_id, {**moved, "location": "Ailleurs"}),
    ):
        with pytest.raises(LookupError, match="no scheduled meeting"):
            await step
    assert (await planned.meeting(meeting_id))["status"] == "held", "held once, and for good"


async def test_a_cancelled_meeting_keeps_its_reason_and_stays_listed(planned: Any) -> None:
    meeting = await schedule(planned)
    cancelled = await planned.cancel_meeting(meeting["id"], "Quorum non atteint")
    assert (cancelled["status"], cancelled["cancellation_reason"], cancelled["held_on"]) == (
        "cancelled",
        "Quorum non atteint",
        None,
    )
    assert [m["status"] for m in await planned.meetings()] == ["cancelled"]
    with pytest.raises(LookupError):
        await planned.mark_meeting_held(meeting["id"], date(2024, 3, 12), ["caban"], [], [], "")


async def test_meetings_are_listed_by_the_day_held_else_their_start_in_brussels(planned: Any) -> None:
    new_year = await schedule(planned, datetime(2024, 12, 31, 23, 30, tzinfo=UTC))  # 00:30 on 1 January
    june = await schedule(planned, datetime(2024, 6, 1, 9, tzinfo=BRUSSELS))
    await planned.cancel_meeting(june["id"], "")
    held = await planned.insert_meeting("copil", date(2024, 3, 12), ["caban"], [], RECORDED_BY)

    assert [m["id"] for m in await planned.meetings(2024)] == [held["id"], june["id"]]
    assert [m["id"] for m in await planned.meetings(2025)] == [new_year["id"]]
    assert [m["id"] for m in await planned.meetings(status="scheduled")] == [new_year["id"]]
    assert [m["id"] for m in await planned.meetings(2024, "held")] == [held["id"]]
    assert held["status"] == "held" and held["absent"] == [] and held["minutes"] == ""


async def test_a_meeting_convenes_the_members_of_its_body(planned: Any) -> None:
    assert await planned.convened_members("working_group") == ["actiris", "caban", "coordination"]
    assert await planned.convened_members("copil") == ["caban", "coordination"]


async def test_a_meeting_ends_after_it_starts(planned: Any) -> None:
    with pytest.raises((ValueError, asyncpg.CheckViolationError)):
        await planned.schedule_meeting("copil", MARCH, MARCH, "Salle 3", [], [], RECORDED_BY)
    assert await planned.meetings() == []


async def test_the_report_counts_a_meeting_once_it_is_recorded_held_not_once_scheduled(planned: Any) -> None:
    """A meeting scheduled before a cut-off and recorded held after it was not held by then: a report
    rebuilt later, as of that cut-off, must not count it either."""
    meeting = await schedule(planned)
    await asyncio.sleep(0.05)
    between = datetime.now(UTC)
    await asyncio.sleep(0.05)
    await planned.mark_meeting_held(meeting["id"], date(2024, 3, 12), ["caban", "coordination"], [], AGENDA, "")
    await schedule(planned, MARCH + timedelta(days=30))  # scheduled, never held
    year = (date(2024, 1, 1), date(2024, 12, 31))
    assert await planned.meetings_until(between, *year) == []
    assert await planned.meetings_until(datetime.now(UTC) + timedelta(days=1), *year) == [
        {"held_on": date(2024, 3, 12), "kind": "working_group", "attendees": 2, "decisions": 0}
    ]
