"""A meeting's life through the actions service's HTTP API, in process, against the real database
and broker: scheduled (once per Idempotency-Key), re-scheduled, recorded held once with its absent
organisations and minutes, or cancelled; its events on the topic in order under one key."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from passerelle_contracts.actions_v1 import TOPIC, MeetingHeld, MeetingRescheduled, MeetingScheduled

from tests.integration.conftest import ActionsUnderTest
from tests.support import envelopes, eventually, read_topic

pytestmark = pytest.mark.infra

NEXT_MONTH = (datetime.now(UTC) + timedelta(days=30)).replace(hour=8, minute=30, second=0, microsecond=0)


def zulu(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


CONVOCATION = {
    "kind": "working_group",
    "starts_at": zulu(NEXT_MONTH),
    "ends_at": zulu(NEXT_MONTH + timedelta(hours=2)),
    "location": "Rue Royale 2-4, 1000 Bruxelles, salle 3",
    "agenda": [{"action_number": 46, "title": "Déclassement du matériel régional"}, {"title": "Divers"}],
    "invited": ["frb"],
}


async def time_passes(actions: ActionsUnderTest, meeting_id: str, starts_at: datetime) -> None:
    """The meeting's day has come (its row moved back in time: the API only schedules ahead)."""
    await actions.runtime.pool.execute(
        "UPDATE meetings SET starts_at = $2, ends_at = NULL WHERE id = $1::uuid", meeting_id, starts_at
    )


async def test_a_meeting_is_scheduled_moved_and_held_once_and_its_events_follow_in_order(
    actions: ActionsUnderTest, kafka_bootstrap: str
) -> None:
    client = actions.client
    coordination = await actions.key("coordination-inclusion-numerique", "coordination")
    once = {**coordination, "Idempotency-Key": "wg-next-month"}

    first = await client.post("/meetings/planned", json=CONVOCATION, headers=once)
    assert first.status_code == 201, first.text
    again = await client.post("/meetings/planned", json=CONVOCATION, headers=once)
    assert (again.status_code, again.json()["id"]) == (200, first.json()["id"]), "a retry: the first meeting"
    meeting_id = first.json()["id"]
    assert first.json()["status"] == "scheduled"

    later = NEXT_MONTH + timedelta(days=2)
    moved = await client.patch(
        f"/meetings/{meeting_id}",
        json={
            "starts_at": zulu(later),
            "ends_at": zulu(later + timedelta(hours=2)),
            "location": CONVOCATION["location"],
        },
        headers=coordination,
    )
    assert moved.status_code == 200, moved.text
    assert [c["field"] for c in moved.json()["changes"]] == ["starts_at", "ends_at"]
    unchanged = await client.patch(f"/meetings/{meeting_id}", json={"starts_at": zulu(later)}, headers=coordination)
    assert (unchanged.status_code, unchanged.json()["changes"]) == (200, [])
    agenda = [{"title": "Bilan"}, *CONVOCATION["agenda"]]
    retitled = await client.patch(f"/meetings/{meeting_id}", json={"agenda": agenda}, headers=coordination)
    assert retitled.json()["agenda"][0] == {"action_number": None, "title": "Bilan"}, "stored as it is convened"

    too_early = await client.post(
        f"/meetings/{meeting_id}/minutes", json={"attendees": ["caban"]}, headers=coordination
    )
    assert too_early.status_code == 422 and "has not happened yet" in too_early.json()["reason"]

    await time_passes(actions, meeting_id, datetime(2024, 3, 12, 8, 30, tzinfo=UTC))
    minutes = {
        "attendees": ["coordination-inclusion-numerique", "easy-brussels", "caban", "frb"],
        "decisions": [{"action_number": 46, "decision": "Lancer l'appel aux administrations."}],
        "minutes": "Le Groupe de travail a validé le calendrier de déclassement 2024.",
    }
    held = await client.post(f"/meetings/{meeting_id}/minutes", json=minutes, headers=coordination)
    assert held.status_code == 201, held.text
    assert (held.json()["status"], held.json()["held_on"]) == ("held", "2024-03-12")
    assert "bruxelles-formation" in held.json()["absent"] and "frb" not in held.json()["absent"]
    twice = await client.post(f"/meetings/{meeting_id}/minutes", json=minutes, headers=coordination)
    assert twice.status_code == 409 and "cannot be recorded held" in twice.json()["reason"]
    late_move = await client.patch(f"/meetings/{meeting_id}", json={"location": "En ligne"}, headers=coordination)
    assert late_move.status_code == 409

    shown = (await client.get(f"/meetings/{meeting_id}", headers=coordination)).json()
    assert (shown["status"], shown["minutes"], shown["decisions"]) == (
        "held",
        minutes["minutes"],
        [{"action_number": 46, "decision": "Lancer l'appel aux administrations."}],
    )
    counted = (await client.get("/indicators/a21-working-group-meetings/measurements", headers=coordination)).json()
    assert [float(m["value"]) for m in counted] == [1]

    topic = actions.runtime.topic(TOPIC)

    async def meeting_events() -> list[dict[str, Any]]:
        found = [
            e for e in envelopes(await read_topic(kafka_bootstrap, topic)) if e["subject"] == f"meeting-{meeting_id}"
        ]
        return found if len(found) >= 4 else []

    scheduled_, rescheduled, _, announced = await eventually(meeting_events, what="the meeting's four events")
    assert [e["event_type"] for e in await meeting_events()] == [
        "MeetingScheduled",
        "MeetingRescheduled",
        "MeetingRescheduled",
        "MeetingHeld",
    ]
    MeetingScheduled.model_validate(scheduled_["data"])
    assert MeetingRescheduled.model_validate(rescheduled["data"]).location == CONVOCATION["location"]
    held_event = MeetingHeld.model_validate(announced["data"])
    assert (held_event.meeting_id, held_event.held_on, held_event.minutes) == (
        meeting_id,
        date(2024, 3, 12),
        minutes["minutes"],
    )
    assert "frb" not in held_event.absent and "easy-brussels" not in held_event.absent


async def test_a_cancelled_meeting_is_listed_cancelled_is_never_held_and_counts_for_nothing(
    actions: ActionsUnderTest,
) -> None:
    client = actions.client
    coordination = await actions.key("coordination-inclusion-numerique", "coordination")
    meeting_id = (await client.post("/meetings/planned", json=CONVOCATION, headers=coordination)).json()["id"]
    cancelled = await client.post(
        f"/meetings/{meeting_id}/cancellation", json={"reason": "Quorum non atteint"}, headers=coordination
    )
    assert cancelled.status_code == 200, cancelled.text
    assert (cancelled.json()["status"], cancelled.json()["cancellation_reason"]) == ("cancelled", "Quorum non atteint")
    await time_passes(actions, meeting_id, datetime(2024, 3, 12, 8, 30, tzinfo=UTC))
    refused = await client.post(f"/meetings/{meeting_id}/minutes", json={"attendees": ["caban"]}, headers=coordination)
    assert refused.status_code == 409 and "was cancelled" in refused.json()["reason"]
    again = await client.post(f"/meetings/{meeting_id}/cancellation", headers=coordination)
    assert again.status_code == 409

    assert [m["status"] for m in (await client.get("/meetings", headers=coordination)).json()] == ["cancelled"]
    assert (await client.get("/meetings", params={"status": "held"}, headers=coordination)).json() == []
    counted = (await client.get("/indicators/a21-working-group-meetings/measurements", headers=coordination)).json()
    assert counted == []
    unknown = await client.get("/meetings/b1a2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d", headers=coordination)
    assert unknown.status_code == 404
