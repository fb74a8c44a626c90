"""A meeting's life: scheduled by the Coordination, re-scheduled, cancelled or recorded held once
under the same id, with the organisations convened that did not attend and its minutes. Only
meetings held count for action 21 and appear in the annual report."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, cast

import pytest

from services.actions.domain.meetings import MeetingClosed
from services.actions.handlers.annual_report import build_annual_report
from services.actions.handlers.governance import (
    CancelMeeting,
    RecordMeeting,
    RecordMeetingHeld,
    RescheduleMeeting,
    ScheduleMeeting,
    cancel_meeting,
    record_meeting,
    record_meeting_held,
    reschedule_meeting,
    schedule_meeting,
)
from services.actions.sql import ActionsRepository
from services.runtime.errors import Forbidden, Invalid, NotFound
from services.runtime.inputs import brussels_today

from .conftest import BRUXELLES_FORMATION, COORDINATION, Store, acting

NEXT_WEEK = (datetime.now(UTC) + timedelta(days=7)).replace(microsecond=0)
AGENDA: list[dict[str, Any]] = [
    {"action_number": 46, "title": "Déclassement du matériel régional"},
    {"action_number": None, "title": "Divers"},
]
# The Working Group's members in the seed (seed/plan.json).
WORKING_GROUP = [
    "actiris",
    "bruxelles-formation",
    "caban",
    "cirb-paradigm",
    "coordination-inclusion-numerique",
    "easy-brussels",
    "equal-brussels",
    "erap",
    "hub-brussels",
    "ibsa",
    "perspective-brussels",
    "talent-brussels",
]


def convocation(
    kind: str = "working_group",
    starts_at: datetime = NEXT_WEEK,
    ends_at: datetime | None = NEXT_WEEK + timedelta(hours=2),
    invited: list[str] | None = None,
    key: str | None = None,
) -> ScheduleMeeting:
    return ScheduleMeeting(
        kind, starts_at, ends_at, "Rue Royale 2-4, 1000 Bruxelles, salle 3", AGENDA, invited or ["frb"], key
    )


async def scheduled(store: Store, command: ScheduleMeeting | None = None) -> uuid.UUID:
    meeting, _ = await schedule_meeting(acting(store), command or convocation())
    return uuid.UUID(str(meeting["id"]))


def time_passes(store: Store, meeting_id: uuid.UUID, starts_at: datetime) -> None:
    """The meeting's day has come (the fake's row moved back in time: a schedule only lies ahead)."""
    row = store.repo.meetings_[meeting_id]
    row["starts_at"], row["ends_at"] = starts_at, starts_at + timedelta(hours=2)


def zulu(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def held(meeting_id: uuid.UUID, **values: Any) -> RecordMeetingHeld:
    values.setdefault("attendees", ["coordination-inclusion-numerique", "easy-brussels", "caban", "frb"])
    values.setdefault("decisions", [])
    return RecordMeetingHeld(meeting_id, **values)


# --- scheduling ------------------------------------------------------------------------------


async def test_a_scheduled_meeting_is_announced_under_its_own_subject_and_listed_as_scheduled(store: Store) -> None:
    correlation = uuid.uuid4()
    meeting, created = await schedule_meeting(acting(store, COORDINATION, correlation), convocation())
    assert created and meeting["status"] == "scheduled"
    [announced] = store.events()
    assert (announced.event_type, announced.subject, announced.actor) == (
        "MeetingScheduled",
        f"meeting-{meeting['id']}",
        COORDINATION,
    )
    assert announced.correlation_id == correlation
    assert announced.data == {
        "meeting_id": str(meeting["id"]),
        "kind": "working_group",
        "starts_at": zulu(NEXT_WEEK),
        "ends_at": zulu(NEXT_WEEK + timedelta(hours=2)),
        "location": "Rue Royale 2-4, 1000 Bruxelles, salle 3",
        "agenda": AGENDA,
        "invited": ["frb"],
    }
    [listed] = await store.repo.meetings(status="scheduled")
    assert (listed["id"], listed["held_on"], listed["attendees"], listed["decisions"]) == (meeting["id"], None, [], [])
    assert await store.repo.meetings(status="held") == []


async def test_a_meeting_is_scheduled_ahead_and_ends_after_it_starts_the_same_day(store: Store) -> None:
    for starts_at, ends_at, reason in [
        (datetime.now(UTC) - timedelta(minutes=1), None, "has passed"),
        (NEXT_WEEK, NEXT_WEEK, "must come after starts_at"),
        (NEXT_WEEK, NEXT_WEEK - timedelta(hours=1), "must come after starts_at"),
        (NEXT_WEEK, NEXT_WEEK + timedelta(hours=13), "at most 12 hours later"),
        (datetime.now(UTC) + timedelta(days=365 * 11), None, "not plausible"),
    ]:
        with pytest.raises(Invalid, match=reason):
            await schedule_meeting(acting(store), convocation(starts_at=starts_at, ends_at=ends_at))
    assert await store.repo.meetings() == []
    assert store.events() == []


async def test_guests_must_be_known_organisations(store: Store) -> None:
    with pytest.raises(Invalid, match="unknown organisations among the guests invited: nobody"):
        await schedule_meeting(acting(store), convocation(invited=["frb", "nobody"]))
    assert await store.repo.meetings() == []


async def test_only_the_coordination_schedules_changes_cancels_or_records_a_meeting_held(store: Store) -> None:
    meeting_id = await scheduled(store)
    store.outbox.clear()
    owner = acting(store, BRUXELLES_FORMATION)
    with pytest.raises(Forbidden, match="only the Coordination schedules meetings"):
        await schedule_meeting(owner, convocation())
    with pytest.raises(Forbidden, match="only the Coordination re-schedules meetings"):
        await reschedule_meeting(owner, RescheduleMeeting(meeting_id, {"location": "En ligne"}))
    with pytest.raises(Forbidden, match="only the Coordination cancels meetings"):
        await cancel_meeting(owner, CancelMeeting(meeting_id))
    with pytest.raises(Forbidden, match="only the Coordination records meetings"):
        await record_meeting_held(owner, held(meeting_id))
    assert store.events() == []


async def test_a_schedule_repeated_with_its_idempotency_key_gives_the_first_meeting_back(store: Store) -> None:
    first, created = await schedule_meeting(acting(store), convocation(key="wg-march"))
    again, created_again = await schedule_meeting(acting(store), convocation(key="wg-march"))
    assert (created, created_again) == (True, False)
    assert str(again["id"]) == str(first["id"])
    assert len(await store.repo.meetings()) == 1
    assert len(store.events("MeetingScheduled")) == 1
    with pytest.raises(Invalid, match="already used"):
        await schedule_meeting(acting(store), convocation(kind="copil", key="wg-march"))


# --- re-scheduling and cancelling --------------------------------------------------------------


async def test_a_reschedule_announces_the_new_schedule_and_only_what_changed(store: Store) -> None:
    meeting_id = await scheduled(store)
    later = NEXT_WEEK + timedelta(days=2)
    reply = await reschedule_meeting(
        acting(store),
        RescheduleMeeting(
            meeting_id,
            {
                "starts_at": later,
                "ends_at": later + timedelta(hours=2),
                "location": "Rue Royale 2-4, 1000 Bruxelles, salle 3",  # as it was
                "invited": ["frb", "bruxelles-formation", "frb"],
            },
        ),
    )
    [moved] = store.events("MeetingRescheduled")
    assert moved.subject == f"meeting-{meeting_id}"
    assert moved.data["changes"] == [
        {"field": "starts_at", "old": zulu(NEXT_WEEK), "new": zulu(later)},
        {"field": "ends_at", "old": zulu(NEXT_WEEK + timedelta(hours=2)), "new": zulu(later + timedelta(hours=2))},
        {"field": "invited", "old": "frb", "new": "bruxelles-formation, frb"},
    ]
    assert moved.data["invited"] == ["bruxelles-formation", "frb"]
    assert moved.data["agenda"] == AGENDA, "the whole schedule travels, not only what changed"
    assert reply["changes"] == moved.data["changes"]
    [listed] = await store.repo.meetings()
    assert (listed["starts_at"], listed["invited"]) == (later, ["bruxelles-formation", "frb"])


async def test_an_agenda_change_is_told_item_by_item(store: Store) -> None:
    meeting_id = await scheduled(store)
    agenda = [{"action_number": 21, "title": "Bilan annuel"}, *AGENDA]
    await reschedule_meeting(acting(store), RescheduleMeeting(meeting_id, {"agenda": agenda}))
    [moved] = store.events("MeetingRescheduled")
    assert moved.data["changes"] == [
        {
            "field": "agenda",
            "old": "46 — Déclassement du matériel régional; Divers",
            "new": "21 — Bilan annuel; 46 — Déclassement du matériel régional; Divers",
        }
    ]


async def test_a_reschedule_that_changes_nothing_announces_nothing(store: Store) -> None:
    meeting_id = await scheduled(store)
    store.outbox.clear()
    reply = await reschedule_meeting(
        acting(store), RescheduleMeeting(meeting_id, {"starts_at": NEXT_WEEK.astimezone(), "invited": ["frb"]})
    )
    assert reply["changes"] == []
    assert store.events() == []


async def test_a_meeting_moves_only_ahead_and_still_ends_after_it_starts(store: Store) -> None:
    meeting_id = await scheduled(store)
    with pytest.raises(Invalid, match="has passed"):
        await reschedule_meeting(
            acting(store), RescheduleMeeting(meeting_id, {"starts_at": datetime.now(UTC) - timedelta(hours=1)})
        )
    with pytest.raises(Invalid, match="must come after starts_at"):  # moved a day later, its end left behind
        await reschedule_meeting(
            acting(store), RescheduleMeeting(meeting_id, {"starts_at": NEXT_WEEK + timedelta(days=1)})
        )
    with pytest.raises(Invalid, match="cannot be changed by a re-schedule"):
        await reschedule_meeting(acting(store), RescheduleMeeting(meeting_id, {"kind": "copil"}))
    with pytest.raises(NotFound, match="no meeting"):
        await reschedule_meeting(acting(store), RescheduleMeeting(uuid.uuid4(), {"location": "En ligne"}))
    assert store.events("MeetingRescheduled") == []


async def test_a_cancelled_meeting_is_announced_with_its_reason_and_then_never_changes(store: Store) -> None:
    meeting_id = await scheduled(store)
    cancelled = await cancel_meeting(acting(store), CancelMeeting(meeting_id, "Quorum non atteint"))
    assert (cancelled["status"], cancelled["cancellation_reason"]) == ("cancelled", "Quorum non atteint")
    [announced] = store.events("MeetingCancelled")
    assert (announced.subject, announced.data["reason"], announced.data["kind"]) == (
        f"meeting-{meeting_id}",
        "Quorum non atteint",
        "working_group",
    )
    store.outbox.clear()
    with pytest.raises(MeetingClosed, match="was cancelled: it cannot be re-scheduled"):
        await reschedule_meeting(acting(store), RescheduleMeeting(meeting_id, {"location": "En ligne"}))
    with pytest.raises(MeetingClosed, match="was cancelled: it cannot be cancelled"):
        await cancel_meeting(acting(store), CancelMeeting(meeting_id))
    time_passes(store, meeting_id, datetime(2024, 3, 12, 8, 30, tzinfo=UTC))
    with pytest.raises(MeetingClosed, match="was cancelled: it cannot be recorded held"):
        await record_meeting_held(acting(store), held(meeting_id))
    assert store.events() == []
    assert MeetingClosed.status_code == 409


# --- holding ---------------------------------------------------------------------------------


async def test_a_meeting_held_keeps_its_id_and_names_the_members_and_guests_who_did_not_attend(store: Store) -> None:
    meeting_id = await scheduled(store)
    time_passes(store, meeting_id, datetime(2024, 3, 12, 8, 30, tzinfo=UTC))
    store.outbox.clear()
    reply, created = await record_meeting_held(
        acting(store),
        held(
            meeting_id,
            decisions=[(46, "Lancer l'appel aux administrations.")],
            minutes="Le Groupe de travail a validé le calendrier de déclassement 2024.",
        ),
    )
    assert created and reply["status"] == "held"
    announced, decided, counted = store.events()
    assert (announced.event_type, announced.subject) == ("MeetingHeld", f"meeting-{meeting_id}")
    assert announced.data["meeting_id"] == str(meeting_id)
    assert announced.data["held_on"] == "2024-03-12", "the day it was scheduled, in Brussels"
    assert announced.data["attendees"] == ["caban", "coordination-inclusion-numerique", "easy-brussels", "frb"]
    assert announced.data["absent"] == [
        m for m in WORKING_GROUP if m not in ("caban", "coordination-inclusion-numerique", "easy-brussels")
    ], "the members who did not come (the guest frb came)"
    assert announced.data["minutes"] == "Le Groupe de travail a validé le calendrier de déclassement 2024."
    assert announced.data["agenda"] == AGENDA, "the agenda it was convened with"
    assert (decided.event_type, decided.subject, decided.causation_id) == (
        "DecisionRecorded",
        "action-46",
        announced.event_id,
    )
    assert (counted.event_type, counted.data["indicator_code"], counted.causation_id) == (
        "IndicatorMeasured",
        "a21-working-group-meetings",
        announced.event_id,
    )
    [listed] = await store.repo.meetings(2024)
    assert (listed["id"], listed["status"], listed["held_on"]) == (meeting_id, "held", date(2024, 3, 12))
    assert listed["decisions"] == [{"action_number": 46, "decision": "Lancer l'appel aux administrations."}]


async def test_a_guest_who_did_not_come_is_absent_and_a_copil_convenes_its_own_members(store: Store) -> None:
    meeting_id = await scheduled(store, convocation(kind="copil", invited=["frb", "digitalcity"]))
    time_passes(store, meeting_id, datetime(2024, 9, 12, 8, 30, tzinfo=UTC))
    await record_meeting_held(acting(store), held(meeting_id, attendees=["coordination-inclusion-numerique", "frb"]))
    [announced] = store.events("MeetingHeld")
    assert announced.data["absent"] == [
        "actiris",
        "bruxelles-formation",
        "caban",
        "cabinet-ministre",
        "digitalcity",
        "easy-brussels",
    ]
    assert store.events("IndicatorMeasured") == [], "a COPIL does not count for action 21"


async def test_the_day_held_defaults_to_the_scheduled_start_in_brussels_and_may_be_given(store: Store) -> None:
    late = await scheduled(store)
    time_passes(store, late, datetime(2024, 3, 12, 23, 30, tzinfo=UTC))  # 00:30 on 13 March in Brussels
    await record_meeting_held(acting(store), held(late))
    moved = await scheduled(store)
    time_passes(store, moved, datetime(2024, 5, 2, 8, 0, tzinfo=UTC))
    await record_meeting_held(acting(store), held(moved, held_on=date(2024, 5, 3), agenda=[{"title": "Bilan"}]))
    first, second = store.events("MeetingHeld")
    assert first.data["held_on"] == "2024-03-13"
    assert (second.data["held_on"], second.data["agenda"]) == (
        "2024-05-03",
        [{"action_number": None, "title": "Bilan"}],
    )


async def test_a_meeting_not_yet_begun_cannot_be_recorded_held(store: Store) -> None:
    meeting_id = await scheduled(store)
    with pytest.raises(Invalid, match="has not happened yet"):
        await record_meeting_held(acting(store), held(meeting_id))
    with pytest.raises(Invalid, match="has not happened yet"):
        await record_meeting_held(acting(store), held(meeting_id, held_on=brussels_today() + timedelta(days=1)))
    assert [m["status"] for m in await store.repo.meetings()] == ["scheduled"]
    assert store.events("MeetingHeld") == []


async def test_a_meeting_is_recorded_held_once_and_is_never_cancelled_afterwards(store: Store) -> None:
    meeting_id = await scheduled(store)
    time_passes(store, meeting_id, datetime(2024, 3, 12, 8, 30, tzinfo=UTC))
    await record_meeting_held(acting(store), held(meeting_id, decisions=[(46, "Lancer l'appel.")]))
    with pytest.raises(MeetingClosed, match="was held on 2024-03-12: it cannot be recorded held"):
        await record_meeting_held(acting(store), held(meeting_id, decisions=[(46, "Lancer l'appel.")]))
    with pytest.raises(MeetingClosed, match="it cannot be cancelled"):
        await cancel_meeting(acting(store), CancelMeeting(meeting_id))
    assert len(store.events("MeetingHeld")) == 1
    assert len(store.events("DecisionRecorded")) == 1
    assert [m["value"] for m in await store.repo.measurements("a21-working-group-meetings")] == [Decimal(1)]


async def test_minutes_repeated_with_their_idempotency_key_give_the_first_reply_back(store: Store) -> None:
    meeting_id = await scheduled(store)
    time_passes(store, meeting_id, datetime(2024, 3, 12, 8, 30, tzinfo=UTC))
    first, created = await record_meeting_held(acting(store), held(meeting_id, minutes="Bilan.", idempotency_key="m1"))
    again, created_again = await record_meeting_held(
        acting(store), held(meeting_id, minutes="Bilan.", idempotency_key="m1")
    )
    assert (created, created_again) == (True, False)
    assert str(again["id"]) == str(first["id"]) and again["minutes"] == "Bilan."
    assert len(store.events("MeetingHeld")) == 1


async def test_unknown_attendees_of_a_scheduled_meeting_are_refused_and_it_stays_scheduled(store: Store) -> None:
    meeting_id = await scheduled(store)
    time_passes(store, meeting_id, datetime(2024, 3, 12, 8, 30, tzinfo=UTC))
    with pytest.raises(Invalid, match="unknown organisations among the attendees: nobody"):
        await record_meeting_held(acting(store), held(meeting_id, attendees=["caban", "nobody"]))
    with pytest.raises(NotFound):
        await record_meeting_held(acting(store), held(uuid.uuid4()))
    assert [m["status"] for m in await store.repo.meetings()] == ["scheduled"]


# --- what counts --------------------------------------------------------------------------------


async def test_only_meetings_held_count_for_action_21_and_appear_in_the_annual_report(store: Store) -> None:
    """Action 21's indicator counts Working Group meetings held per calendar year: one scheduled,
    one cancelled, one held after its schedule and one recorded after the fact make two."""
    await scheduled(store)  # still ahead
    cancelled = await scheduled(store)
    await cancel_meeting(acting(store), CancelMeeting(cancelled, "Quorum non atteint"))
    march = await scheduled(store)
    time_passes(store, march, datetime(2024, 3, 12, 8, 30, tzinfo=UTC))
    await record_meeting_held(acting(store), held(march))
    await record_meeting(
        acting(store), RecordMeeting("working_group", date(2024, 6, 18), ["caban"], [], [])
    )  # recorded after the fact, as before
    values = [m["value"] for m in await store.repo.measurements("a21-working-group-meetings")]
    assert values == [Decimal(1), Decimal(2)]
    assert sorted(m["status"] for m in await store.repo.meetings()) == ["cancelled", "held", "held", "scheduled"]

    report = await build_annual_report(cast(ActionsRepository, store.repo), 2024, brussels_today())
    assert [(m.held_on, m.kind) for m in report.meetings] == [
        (date(2024, 3, 12), "working_group"),
        (date(2024, 6, 18), "working_group"),
    ]
    [a21] = [a for a in report.actions() if a.number == 21]
    assert [(i.code, i.value) for i in a21.indicators] == [("a21-working-group-meetings", 2)]


async def test_a_meeting_held_after_the_cut_off_is_not_in_the_report_though_scheduled_before(store: Store) -> None:
    meeting_id = await scheduled(store)
    yesterday = brussels_today() - timedelta(days=1)
    store.repo.meetings_[meeting_id]["recorded_at"] -= timedelta(days=3)  # scheduled three days ago
    time_passes(store, meeting_id, datetime.combine(yesterday, datetime.min.time(), tzinfo=UTC) + timedelta(hours=8))
    await record_meeting_held(acting(store), held(meeting_id))  # recorded held today
    as_of_yesterday = await build_annual_report(cast(ActionsRepository, store.repo), yesterday.year, yesterday)
    assert as_of_yesterday.meetings == (), "held yesterday, but recorded held after yesterday's cut-off"
    as_of_today = await build_annual_report(cast(ActionsRepository, store.repo), yesterday.year, brussels_today())
    assert [m.held_on for m in as_of_today.meetings] == [yesterday]
