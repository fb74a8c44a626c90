"""The repository's contract, part 2: milestones, progress reports, meetings and the annual report."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from services.actions import events
from tests.integration.actions_repository.given import COORDINATION, wrap

pytestmark = pytest.mark.infra


# --- milestones -------------------------------------------------------------------------------


async def test_a_milestone_is_planned_replanned_and_reached_once(planned: Any) -> None:
    first, second, elsewhere = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    saved = await planned.save_milestone(first, 1, "Convention", "", date(2024, 6, 30))
    assert {
        k: saved[k] for k in ("id", "action_number", "title_fr", "planned_on", "reached_on", "overdue_announced_on")
    } == {
        "id": first,
        "action_number": 1,
        "title_fr": "Convention",
        "planned_on": date(2024, 6, 30),
        "reached_on": None,
        "overdue_announced_on": None,
    }
    await planned.save_milestone(second, 1, "Lot 1", "Partij 1", date(2024, 3, 31))
    await planned.save_milestone(elsewhere, 2, "Autre", "", date(2024, 1, 1))
    assert [m["id"] for m in await planned.milestones(1)] == [second, first], "by planned date"
    assert len(await planned.milestones()) == 3
    assert await planned.get_milestone(first, 2) is None, "not on that action"

    assert [m["id"] for m in await planned.claim_overdue(date(2024, 4, 1))] == [second, elsewhere], (
        "by action, then date"
    )
    assert await planned.claim_overdue(date(2024, 4, 2)) == [], "announced once"
    replanned = await planned.save_milestone(second, 1, "Lot 1", "Partij 1", date(2024, 5, 15))
    assert (replanned["planned_on"], replanned["overdue_announced_on"]) == (date(2024, 5, 15), None)
    assert [m["id"] for m in await planned.claim_overdue(date(2024, 5, 20))] == [second], "re-planned: announced again"

    reached = await planned.mark_reached(first, 1, date(2024, 6, 1))
    assert reached is not None and reached["reached_on"] == date(2024, 6, 1)
    assert await planned.mark_reached(first, 1, date(2024, 6, 2)) is None, "already reached"
    assert await planned.mark_reached(uuid.uuid4(), 1, date(2024, 6, 2)) is None
    assert await planned.milestone_counts(1) == (2, 1)
    assert await planned.milestone_counts(4) == (0, 0)
    assert await planned.claim_overdue(date(2025, 1, 1)) == [], "reached ones are never overdue"


# --- progress reports -------------------------------------------------------------------------


async def test_one_report_per_action_and_period_whose_status_moves(planned: Any) -> None:
    owner = COORDINATION.model_dump(mode="json")
    draft = await planned.save_report(2, "2024", "Trois sessions.", owner)
    assert {k: draft[k] for k in ("action_number", "period", "status", "body", "comment", "created_by")} == {
        "action_number": 2,
        "period": "2024",
        "status": "draft",
        "body": "Trois sessions.",
        "comment": "",
        "created_by": owner,
    }
    edited = await planned.save_report(2, "2024", "Trois sessions, 48 participants.", owner)
    assert (edited["id"], edited["body"]) == (draft["id"], "Trois sessions, 48 participants.")
    await planned.save_report(1, "2025", "", owner)
    assert (await planned.report_for_period(2, "2024"))["id"] == draft["id"]
    assert await planned.report_for_period(2, "2025") is None
    assert await planned.report_action(draft["id"]) == 2
    assert await planned.report_action(uuid.uuid4()) is None
    returned = await planned.set_report_status(draft["id"], "returned", "Ajoutez le nombre.")
    assert (returned["status"], returned["comment"]) == ("returned", "Ajoutez le nombre.")
    assert (await planned.lock_report(draft["id"]))["status"] == "returned"
    assert [(r["action_number"], r["period"]) for r in await planned.progress_reports()] == [(1, "2025"), (2, "2024")]
    assert [r["id"] for r in await planned.progress_reports(status="returned")] == [draft["id"]]
    assert await planned.progress_reports(1, "returned") == []


async def test_a_reader_sees_the_approved_reports_and_those_of_the_actions_it_leads_or_partners(planned: Any) -> None:
    owner = COORDINATION.model_dump(mode="json")
    first = await planned.save_report(1, "2024", "", owner)  # led by coordination, caban a partner
    third = await planned.save_report(3, "2024", "", owner)  # led by actiris, caban and epn partners
    second = await planned.save_report(2, "2024", "", owner)  # led by caban alone
    assert [r["id"] for r in await planned.progress_reports(reader="caban")] == [first["id"], second["id"], third["id"]]
    assert [r["id"] for r in await planned.progress_reports(reader="actiris")] == [third["id"]]
    assert [r["id"] for r in await planned.progress_reports(reader="epn")] == [third["id"]]
    assert await planned.progress_reports(reader="nobody") == []
    await planned.set_report_status(second["id"], "approved", "")
    assert [r["id"] for r in await planned.progress_reports(reader="nobody")] == [second["id"]]
    assert await planned.progress_reports(2, "draft", "caban") == []


async def test_the_moves_of_a_report_not_approved_are_in_the_history_only_for_its_actions_organisations(
    planned: Any,
) -> None:
    """A draft is read by the organisations of its action only; so are its moves (a return's
    comment above all) in ``history`` and ``changes_between``, until the report is approved."""
    since = datetime(2000, 1, 1, tzinfo=UTC)
    report = await planned.save_report(3, "2024", "", COORDINATION.model_dump(mode="json"))  # led by actiris

    async def move(status: str, previous: str, comment: str = "") -> None:
        moved = await planned.set_report_status(report["id"], status, comment)
        envelope = wrap(events.report_changed(moved, previous))
        await planned.add_history(3, envelope, envelope.data["changes"])

    await move("submitted", "draft")
    await move("returned", "submitted", "Le budget manque.")
    details = wrap(events.details_changed(3, "Action 3", []))
    await planned.add_history(3, details, [])

    async def history(reader: str | None) -> list[str]:
        return [h["event_type"] for h in await planned.history(3, reader)]

    async def changes(reader: str | None) -> list[str]:
        return [h["event_type"] for h in await planned.changes_between(since, reader=reader)]

    every = ["ReportSubmitted", "ReportReturned", "ActionDetailsChanged"]
    for reader in (None, "actiris", "epn"):  # everyone (the Coordination), the lead, a partner
        assert await history(reader) == every, reader
        assert await changes(reader) == every, reader
    assert await history("coordination") == ["ActionDetailsChanged"], "another action's organisation"
    assert await changes("coordination") == ["ActionDetailsChanged"]
    assert await planned.history(3) == await planned.history(3, None), "no reader: every entry"

    await move("submitted", "returned")
    await move("approved", "submitted")
    shared = [*every, "ReportSubmitted", "ReportApproved"]
    assert await history("coordination") == shared, "approved: shared with every reader, as the report is"
    assert await changes("coordination") == shared


# --- governance and the annual report ---------------------------------------------------------


async def test_meetings_are_read_with_their_decisions_and_counted_for_the_report(planned: Any) -> None:
    agenda = [{"action_number": 1, "title": "Matériel"}]
    recorded_by = COORDINATION.model_dump(mode="json")
    march = await planned.insert_meeting(
        "working_group", date(2024, 3, 12), ["caban", "coordination"], agenda, recorded_by
    )
    assert {k: march[k] for k in ("kind", "held_on", "attendees", "agenda")} == {
        "kind": "working_group",
        "held_on": date(2024, 3, 12),
        "attendees": ["caban", "coordination"],
        "agenda": agenda,
    }
    assert isinstance(march["id"], uuid.UUID) and isinstance(march["recorded_at"], datetime)
    await planned.insert_decision(march["id"], 1, "Lancer l'appel.")
    january = await planned.insert_meeting("copil", date(2024, 1, 20), ["coordination"], [], recorded_by)
    await planned.insert_meeting("working_group", date(2025, 2, 1), ["caban"], [], recorded_by)

    meetings = await planned.meetings(2024)
    assert [m["id"] for m in meetings] == [january["id"], march["id"]], "by date"
    assert meetings[1]["decisions"] == [{"action_number": 1, "decision": "Lancer l'appel."}]
    assert meetings[0]["decisions"] == []
    assert len(await planned.meetings()) == 3

    later = datetime.now(UTC) + timedelta(days=1)
    assert await planned.meetings_until(later, date(2024, 1, 1), date(2024, 12, 31)) == [
        {"held_on": date(2024, 1, 20), "kind": "copil", "attendees": 1, "decisions": 0},
        {"held_on": date(2024, 3, 12), "kind": "working_group", "attendees": 2, "decisions": 1},
    ]
    assert await planned.meetings_until(datetime(2024, 1, 1, tzinfo=UTC), date(2024, 1, 1), date(2024, 12, 31)) == [], (
        "recorded after the cut-off"
    )


async def test_the_report_plan_names_the_organisations(planned: Any) -> None:
    plan = await planned.report_plan()
    assert [r["number"] for r in plan] == [1, 2, 3, 4]
    assert plan[2] == {
        "number": 3,
        "title_fr": "Action 3",
        "title_nl": "",
        "chantier": 2,
        "weight": Decimal(1),
        "lead": "Actiris",
        "partners": ["CABAN", "epn"],
        "axis": 1,
        "chantier_fr": "Chantier deux",
        "chantier_nl": "",
        "axis_fr": "Axe un",
        "axis_nl": "As een",
    }


async def test_a_published_report_keeps_its_files_and_their_hashes(planned: Any) -> None:
    report_id = "annual-report-2024-as-of-2024-12-31"
    assert not await planned.annual_report_exists(report_id)
    files = {"a.html": ("sha-a", b"<html>"), "b.pdf": ("sha-b", b"%PDF")}
    await planned.insert_annual_report(report_id, 2024, date(2024, 12, 31), COORDINATION.model_dump(mode="json"), files)
    await planned.insert_annual_report(
        "annual-report-2023-as-of-2024-01-15", 2023, date(2024, 1, 15), {}, {"c.csv": ("sha-c", b"x")}
    )
    assert await planned.annual_report_exists(report_id)
    listed = await planned.annual_reports()
    assert [(r["id"], r["year"], r["as_of"]) for r in listed] == [
        ("annual-report-2023-as-of-2024-01-15", 2023, date(2024, 1, 15)),
        (report_id, 2024, date(2024, 12, 31)),
    ]
    assert listed[1]["files"] == {"a.html": "sha-a", "b.pdf": "sha-b"}
    assert [r["id"] for r in await planned.annual_reports(2024)] == [report_id]
    assert await planned.annual_report_file(report_id, "b.pdf") == (b"%PDF", "sha-b")
    assert await planned.annual_report_file(report_id, "nope.pdf") is None
