"""The actions service against hostile input and curious readers, in process, against the real
database and broker: what is refused at the edge (422), what only a key reads (401), and what
only the organisations concerned read (drafts)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from services.runtime.inputs import brussels_today
from tests.integration.conftest import ActionsUnderTest

pytestmark = pytest.mark.infra

TODAY = brussels_today().isoformat()
TOMORROW = (brussels_today() + timedelta(days=1)).isoformat()
MEETING = {"kind": "working_group", "held_on": "2024-03-12", "attendees": ["caban"]}
PLANNED = {
    "kind": "working_group",
    "starts_at": f"{brussels_today().year + 1}-03-12T09:30:00+01:00",
    "location": "Salle 3",
}
SOME_MEETING = "/meetings/b1a2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d"
MEASUREMENT = {"value": 12, "measured_on": "2024-06-30", "source": "comptage", "external_id": "m-1"}


@pytest.mark.parametrize(
    ("method", "path", "body", "where"),
    [
        ("post", "/indicators/a12-sessions/measurements", {**MEASUREMENT, "value": -1000}, "value"),
        ("post", "/indicators/a12-sessions/measurements", {**MEASUREMENT, "value": "NaN"}, "value"),
        ("post", "/indicators/a12-sessions/measurements", {**MEASUREMENT, "measured_on": "9999-12-31"}, "measured_on"),
        ("post", "/indicators/a12-sessions/measurements", {**MEASUREMENT, "measured_on": TOMORROW}, "measured_on"),
        ("post", "/indicators/a12-sessions/measurements", {**MEASUREMENT, "source": "a\x00b"}, "source"),
        ("post", "/meetings", {**MEETING, "held_on": "2999-01-01"}, "held_on"),
        ("post", "/meetings", {**MEETING, "attendees": ["caban"] * 1000}, "attendees"),
        ("post", "/meetings/planned", {**PLANNED, "starts_at": "2024-03-12T09:30:00+01:00"}, "starts_at"),  # past
        ("post", "/meetings/planned", {**PLANNED, "starts_at": "2099-03-12T09:30:00"}, "starts_at"),  # no offset
        ("post", "/meetings/planned", {**PLANNED, "starts_at": 1900000000}, "starts_at"),  # not a Unix time
        ("post", "/meetings/planned", {**PLANNED, "starts_at": "9999-12-31T23:00:00-12:00"}, "starts_at"),
        ("post", "/meetings/planned", {**PLANNED, "ends_at": "10000-01-01T00:00:00Z"}, "ends_at"),
        ("post", "/meetings/planned", {**PLANNED, "location": "x" * 301}, "location"),
        ("post", "/meetings/planned", {**PLANNED, "location": "Salle\n3"}, "location"),
        ("post", "/meetings/planned", {**PLANNED, "invited": ["caban"] * 1000}, "invited"),
        ("post", "/meetings/planned", {**PLANNED, "agenda": [{"title": "x"}] * 101}, "agenda"),
        ("patch", SOME_MEETING, {"location": "\x00"}, "location"),
        ("post", f"{SOME_MEETING}/minutes", {"attendees": ["caban"], "minutes": "x" * 10_001}, "minutes"),
        ("post", f"{SOME_MEETING}/minutes", {"attendees": []}, "attendees"),
        ("post", f"{SOME_MEETING}/minutes", {"attendees": ["caban"], "held_on": TOMORROW}, "held_on"),
        ("post", f"{SOME_MEETING}/cancellation", {"reason": "x" * 1_001}, "reason"),
        ("post", "/annual-reports", {"year": brussels_today().year, "as_of": TOMORROW}, "as_of"),
        ("post", "/annual-reports", {"year": brussels_today().year, "as_of": TODAY}, "as_of"),  # not ended yet
        ("post", "/milestones/check-overdue?as_of=2231-01-01", None, "as_of"),
        ("post", "/actions/46/milestones", {"title_fr": "Bilan", "planned_on": "2999-01-01"}, "planned_on"),
        ("post", "/actions/46/progress", {"progress": 150}, "progress"),
        ("post", "/actions/46/status", {"status": "planned", "note": "x" * 10_000}, "note"),
        ("patch", "/actions/46", {"title_fr": "=x\x07"}, "title_fr"),
        ("patch", "/actions/46", {"weight": "Infinity"}, "weight"),
        ("post", "/actions/2147483648/progress", {"progress": 10}, "number"),
        ("put", "/actions/46/indicators/" + "x" * 100, {"name_fr": "Appareils", "unit": "devices"}, "code"),
        ("get", "/changes?since=0.5", None, "since"),  # was read as a Unix time (found by fuzzing)
        ("post", "/import/actions.csv", None, "empty"),  # no file is not an empty report
    ],
)
async def test_an_implausible_value_is_refused_with_422_and_where_it_is(
    actions: ActionsUnderTest, method: str, path: str, body: dict[str, Any] | None, where: str
) -> None:
    coordination = await actions.key("coordination-inclusion-numerique", "coordination")
    await actions.client.put(
        "/actions/12/indicators/a12-sessions", json={"name_fr": "Séances", "unit": "sessions"}, headers=coordination
    )
    response = await actions.client.request(method, path, json=body, headers=coordination)
    assert response.status_code == 422, response.text
    assert where in response.text


async def test_a_meeting_address_that_is_no_meetings_id_is_not_found_and_names_no_other_route(
    actions: ActionsUnderTest,
) -> None:
    """Meeting ids are UUIDs in the route itself: ``/meetings/planned`` is never taken for a meeting
    (its Allow header names POST alone), and ``/meetings/not-a-meeting`` is no route at all."""
    coordination = await actions.key("coordination-inclusion-numerique", "coordination")
    response = await actions.client.patch(
        "/meetings/not-a-meeting", json={"location": "En ligne"}, headers=coordination
    )
    assert response.status_code == 404, response.text
    response = await actions.client.request("OPTIONS", "/meetings/planned", headers=coordination)
    assert (response.status_code, response.headers["Allow"]) == (405, "POST")


async def test_a_value_typed_by_hand_never_overwrites_an_indicator_counted_from_events(
    actions: ActionsUnderTest,
) -> None:
    coordination = await actions.key("coordination-inclusion-numerique", "coordination")
    response = await actions.client.post(
        "/indicators/a46-devices-pupils/measurements", json={**MEASUREMENT, "value": 1000}, headers=coordination
    )
    assert response.status_code == 409
    assert "counted from DevicesDelivered events" in response.json()["reason"]


PUBLIC = ["/organisations", "/actions", "/actions/46", "/rollup", "/indicators", "/milestones", "/annual-reports"]
KEYED = [
    "/actions/46/history",
    "/changes?since=2024-01-01T00:00:00%2B01:00",
    "/meetings",
    "/reports",
    "/indicators/a46-devices-pupils/measurements",
    "/export/actions.csv",
    "/export/measurements.csv",
]


async def test_the_plan_its_indicators_and_aggregate_figures_are_read_without_a_key(actions: ActionsUnderTest) -> None:
    for path in PUBLIC:
        assert (await actions.client.get(path)).status_code == 200, path
    assert "history" not in (await actions.client.get("/actions/46")).json(), "who did what is not public"


@pytest.mark.parametrize("path", KEYED)
async def test_the_rest_is_read_with_a_key(actions: ActionsUnderTest, path: str) -> None:
    response = await actions.client.get(path)
    assert response.status_code == 401, path
    partner = await actions.key("caban", "partner")
    assert (await actions.client.get(path, headers=partner)).status_code == 200


async def test_a_draft_report_is_read_only_by_the_coordination_and_the_actions_own_organisations(
    actions: ActionsUnderTest,
) -> None:
    client = actions.client
    lead = await actions.key("bruxelles-formation", "owner")  # leads action 38
    draft = (await client.put("/actions/38/reports/2024", json={"body": "Trois sessions."}, headers=lead)).json()

    async def visible(organisation: str, role: str, **params: Any) -> list[str]:
        headers = await actions.key(organisation, role)
        response = await client.get("/reports", params=params, headers=headers)
        assert response.status_code == 200, response.text
        return [r["id"] for r in response.json()]

    assert await visible("bruxelles-formation", "owner") == [draft["id"]]
    assert await visible("startdigital", "partner") == [draft["id"]], "a partner of action 38"
    assert await visible("coordination-inclusion-numerique", "coordination") == [draft["id"]]
    assert await visible("caban", "partner") == [], "another organisation's draft"
    assert await visible("caban", "owner", action=38, status="draft") == []

    coordination = await actions.key("coordination-inclusion-numerique", "coordination")
    await client.post(f"/reports/{draft['id']}/submit", headers=lead)
    assert await visible("caban", "partner") == [], "submitted: still between the owner and the Coordination"
    await client.post(f"/reports/{draft['id']}/approve", headers=coordination)
    assert await visible("caban", "partner") == [draft["id"]], "an approved report is shared with every partner"


async def test_a_comment_on_a_report_never_approved_is_read_only_by_the_coordination_and_the_actions_own_organisations(
    actions: ActionsUnderTest,
) -> None:
    client = actions.client
    lead = await actions.key("bruxelles-formation", "owner")  # leads action 38; startdigital is a partner
    coordination = await actions.key("coordination-inclusion-numerique", "coordination")
    draft = (await client.put("/actions/38/reports/2024", json={"body": "Trois sessions."}, headers=lead)).json()
    await client.post(f"/reports/{draft['id']}/submit", headers=lead)
    comment = "Les chiffres de participation ne tiennent pas."
    returned = await client.post(f"/reports/{draft['id']}/return", json={"comment": comment}, headers=coordination)
    assert returned.status_code == 200, returned.text

    async def read(organisation: str, role: str) -> str:
        """What /actions/38/history and /changes show this reader, as one text."""
        headers = await actions.key(organisation, role)
        history = await client.get("/actions/38/history", headers=headers)
        changes = await client.get("/changes", params={"since": "2024-01-01T00:00:00+01:00"}, headers=headers)
        assert (history.status_code, changes.status_code) == (200, 200), history.text + changes.text
        return history.text + changes.text

    for organisation, role in [("caban", "partner"), ("caban", "owner")]:  # of other actions
        seen = await read(organisation, role)
        assert comment not in seen, f"{organisation} ({role}) reads another action's return comment"
        assert "ReportReturned" not in seen and "ReportSubmitted" not in seen
        assert "ActionRegistered" in seen, "the rest of the history is still read"
    for organisation, role in [
        ("startdigital", "partner"),
        ("bruxelles-formation", "owner"),
        ("coordination-inclusion-numerique", "coordination"),
        ("passerelle-ops", "operator"),
    ]:
        assert (await read(organisation, role)).count(comment) == 2, f"{organisation} ({role}) reads it in both"
