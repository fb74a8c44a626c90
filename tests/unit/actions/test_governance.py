"""Meetings: recorded by the Coordination, each decision caused by the meeting, Working Group
meetings counted for action 21 per calendar year."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from decimal import Decimal

import pytest
from passerelle_contracts import SYSTEM_ACTOR

from services.actions.handlers.governance import RecordMeeting, record_meeting
from services.runtime.errors import Forbidden, Invalid
from services.runtime.inputs import brussels_today

from .conftest import BRUXELLES_FORMATION, COORDINATION, Store, acting

ATTENDEES = ["coordination-inclusion-numerique", "easy-brussels", "caban"]


def meeting(
    held_on: date, kind: str = "working_group", decisions: list[tuple[int, str]] | None = None
) -> RecordMeeting:
    return RecordMeeting(
        kind, held_on, ATTENDEES, [{"action_number": 46, "title": "Matériel déclassé"}], decisions or []
    )


async def test_a_meeting_its_decisions_and_its_count_for_action_21_are_published_in_one_flow(store: Store) -> None:
    correlation = uuid.uuid4()
    recorded = await record_meeting(
        acting(store, COORDINATION, correlation), meeting(date(2024, 3, 12), decisions=[(46, "Lancer l'appel.")])
    )
    assert recorded["decisions"] == [{"action_number": 46, "decision": "Lancer l'appel."}]
    held, decided, counted = store.events()
    assert (held.event_type, held.subject, held.actor) == ("MeetingHeld", f"meeting-{recorded['id']}", COORDINATION)
    assert (decided.event_type, decided.subject, decided.actor) == ("DecisionRecorded", "action-46", COORDINATION)
    assert decided.causation_id == held.event_id, "the decision is caused by the meeting"
    assert (counted.event_type, counted.subject, counted.actor) == ("IndicatorMeasured", "action-21", SYSTEM_ACTOR)
    assert (counted.causation_id, counted.data["source_event_id"]) == (held.event_id, str(held.event_id))
    assert {e.correlation_id for e in (held, decided, counted)} == {correlation}
    assert (await store.repo.history(46))[-1]["event_type"] == "DecisionRecorded"
    assert [m["attendees"] for m in await store.repo.meetings(2024)] == [sorted(ATTENDEES)]
    assert (held.data["absent"], held.data["minutes"]) == ([], ""), "recorded after the fact: as before"
    assert [m["status"] for m in await store.repo.meetings()] == ["held"]


async def test_working_group_meetings_are_counted_per_calendar_year_and_a_copil_is_not(store: Store) -> None:
    for held_on, kind in [
        (date(2024, 3, 12), "working_group"),
        (date(2024, 6, 18), "working_group"),
        (date(2024, 7, 1), "copil"),
        (date(2025, 1, 20), "working_group"),
    ]:
        await record_meeting(acting(store), meeting(held_on, kind))
    values = [m["value"] for m in await store.repo.measurements("a21-working-group-meetings")]
    assert values == [Decimal(1), Decimal(2), Decimal(1)], "the count restarts in 2025"


async def test_only_the_coordination_records_meetings(store: Store) -> None:
    with pytest.raises(Forbidden, match="only the Coordination records meetings"):
        await record_meeting(acting(store, BRUXELLES_FORMATION), meeting(date(2024, 3, 12)))
    assert store.events() == []


async def test_a_meeting_with_unknown_attendees_is_refused_and_nothing_is_kept(store: Store) -> None:
    command = RecordMeeting("working_group", date(2024, 3, 12), ["caban", "nobody"], [], [(46, "Décision.")])
    with pytest.raises(Invalid, match="unknown organisations among the attendees: nobody"):
        await record_meeting(acting(store), command)
    assert await store.repo.meetings() == []
    assert store.events() == []


async def test_a_meeting_held_after_today_in_brussels_is_refused(store: Store) -> None:
    for held_on in (date(2999, 1, 1), brussels_today() + timedelta(days=1)):
        with pytest.raises(Invalid, match="has not happened yet"):
            await record_meeting(acting(store), meeting(held_on))
    assert await store.repo.meetings() == []
    assert await store.repo.measurements("a21-working-group-meetings") == []
