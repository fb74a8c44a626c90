"""Progress reports: written by the lead, submitted, approved or returned by the Coordination."""

from __future__ import annotations

import uuid

import pytest

from services.actions import domain, events
from services.actions.domain import InvalidTransition
from services.actions.handlers.progress_reports import MoveReport, WriteReport, move_report, write_report
from services.runtime.errors import Conflict, Forbidden, NotFound

from .conftest import BRUXELLES_FORMATION, CABAN, COORDINATION, Store, acting


async def test_a_report_goes_from_draft_to_approved_through_a_return(store: Store) -> None:
    owner = acting(store, BRUXELLES_FORMATION)
    draft = await write_report(owner, WriteReport(38, "2024", "Trois sessions."))
    assert (draft["status"], draft["created_by"]["organisation"]) == ("draft", "bruxelles-formation")
    assert store.events() == [], "a draft is not news"
    report_id = draft["id"]

    with pytest.raises(InvalidTransition, match="is draft: cannot approve"):
        await move_report(acting(store), MoveReport(report_id, "approve"))
    assert (await move_report(owner, MoveReport(report_id, "submit")))["status"] == "submitted"
    with pytest.raises(Conflict, match="can no longer be edited"):
        await write_report(owner, WriteReport(38, "2024", "x"))
    with pytest.raises(Forbidden, match="only the Coordination may approve"):
        await move_report(owner, MoveReport(report_id, "approve"))
    with pytest.raises(Conflict, match="needs a comment"):
        await move_report(acting(store), MoveReport(report_id, "return", " "))
    returned = await move_report(acting(store), MoveReport(report_id, "return", "Ajoutez le nombre de participants."))
    assert (returned["status"], returned["comment"]) == ("returned", "Ajoutez le nombre de participants.")

    edited = await write_report(owner, WriteReport(38, "2024", "Trois sessions, 48 participants."))
    assert edited["id"] == report_id, "the same report, edited"
    await move_report(owner, MoveReport(report_id, "submit"))
    approved = await move_report(acting(store), MoveReport(report_id, "approve"))
    assert (approved["status"], approved["body"]) == ("approved", "Trois sessions, 48 participants.")

    published = store.events()
    assert [e.event_type for e in published] == [
        "ReportSubmitted",
        "ReportReturned",
        "ReportSubmitted",
        "ReportApproved",
    ]
    assert {e.subject for e in published} == {"action-38"}
    assert [e.actor for e in published] == [BRUXELLES_FORMATION, COORDINATION, BRUXELLES_FORMATION, COORDINATION]
    assert {"field": "comment", "old": "", "new": "Ajoutez le nombre de participants."} in published[1].data["changes"]
    assert [h["event_type"] for h in await store.repo.history(38)][-4:] == [e.event_type for e in published]


async def test_only_the_lead_writes_and_submits_its_reports(store: Store) -> None:
    with pytest.raises(Forbidden):
        await write_report(acting(store, CABAN), WriteReport(38, "2024", "Pas le nôtre."))
    draft = await write_report(acting(store, BRUXELLES_FORMATION), WriteReport(38, "2024", ""))
    with pytest.raises(Forbidden):
        await move_report(acting(store, CABAN), MoveReport(draft["id"], "submit"))


async def test_an_unknown_report_is_not_found(store: Store) -> None:
    with pytest.raises(NotFound, match="no report"):
        await move_report(acting(store), MoveReport(uuid.uuid4(), "submit"))


def test_every_event_a_report_moves_with_is_one_whose_readers_are_scoped() -> None:
    """The history and /changes keep these from other organisations until the report is approved."""
    assert {e.event_type for e in events.REPORT_EVENTS.values()} == domain.REPORT_EVENT_TYPES
