"""What the feed shows to whom: the Coordination and operators every event with its data; a partner
the events that name its organisation on the topics partners read, as partners read them (free
text withheld), never the notifications' delivery log."""

from __future__ import annotations

import uuid

import asyncpg
from passerelle_contracts import Actor, Envelope
from passerelle_contracts.actions_v1 import ActionRegistered, ActionStatusChanged, ReportReturned
from passerelle_contracts.common import FieldChange
from passerelle_contracts.envelope import EventData
from passerelle_contracts.equipment_v1 import DevicesDelivered
from passerelle_contracts.notifications_v1 import MessageSent

from services.dashboard import feed
from services.dashboard.viewers import Viewer
from tests.integration.dashboard.conftest import apply

OWNER = "bruxelles-formation"
COORDINATION = "coordination-inclusion-numerique"
OTHER = "asbl-devoirs-exemple"
OPERATOR = Viewer("coordination-inclusion-numerique", "operator", "k1")
PARTNER = Viewer(OWNER, "partner", "k2")
FLOW = uuid.uuid4()


def event(data: EventData, source: str, subject: str, actor: str = OWNER) -> tuple[Envelope, EventData]:
    role = {"passerelle": "system", COORDINATION: "coordination"}.get(actor, "partner")
    who = Actor(organisation=actor, role=role)
    return Envelope.wrap(data, source=source, subject=subject, actor=who, correlation_id=FLOW), data


def story() -> list[tuple[Envelope, EventData]]:
    return [
        event(
            ActionRegistered(action_number=12, axis=1, chantier=2, title_fr="Action 12", lead=OWNER),
            "actions",
            "action-12",
            actor="passerelle",
        ),
        event(
            ActionStatusChanged(
                action_number=12,
                title_fr="Action 12",
                status="in_progress",
                previous_status="not_started",
                note="Mme Dupont a appelé",  # free text: withheld from partners
                changes=[FieldChange(field="status", old="not_started", new="in_progress")],
            ),
            "actions",
            "action-12",
            actor=COORDINATION,  # its owner sees it all the same: the action is its
        ),
        event(
            ReportReturned(
                action_number=12,
                report_id="r-1",
                period="2026",
                status="returned",
                previous_status="submitted",
                comment="À compléter",
                changes=[],
            ),
            "actions",
            "action-12",
        ),
        event(
            DevicesDelivered(
                delivery_id="d-1",
                recipient=OTHER,
                recipient_kind="pupils-association",
                devices={"laptop": 3},
                total_devices=3,
                delivered_on="2026-11-20",
            ),
            "equipment",
            "delivery-d-1",
            actor="caban",
        ),
        event(
            MessageSent(message_id=1, partner=OWNER, channel="email", about="ActionStatusChanged", attempts=1),
            "notifications",
            "message-1",
            actor="passerelle",
        ),
    ]


async def test_an_operator_sees_every_event_with_its_free_text(pool: asyncpg.Pool) -> None:
    await apply(pool, story())

    events = await feed.page(pool, OPERATOR, feed.Filters(), 100)

    assert [e.event_type for e in events] == [
        "MessageSent",
        "DevicesDelivered",
        "ReportReturned",
        "ActionStatusChanged",
        "ActionRegistered",
    ]
    assert events[-2].data["note"] == "Mme Dupont a appelé"


async def test_a_partner_sees_only_its_organisation_s_events_without_free_text_or_the_delivery_log(
    pool: asyncpg.Pool,
) -> None:
    await apply(pool, story())

    events = await feed.page(pool, PARTNER, feed.Filters(), 100)

    assert [e.event_type for e in events] == ["ReportReturned", "ActionStatusChanged", "ActionRegistered"]
    for e in events:
        assert not {"note", "comment", "changes"} & set(e.data), e.data
    assert events[1].data["status"] == "in_progress"
    trail = await feed.trail(pool, PARTNER, FLOW)
    assert [e.event_type for e in trail] == ["ActionRegistered", "ActionStatusChanged", "ReportReturned"]
    other = await feed.page(pool, PARTNER, feed.Filters(organisation=OTHER), 100)
    assert other == [], "a filter cannot widen what a partner sees"


async def test_the_feed_filters_by_topic_type_organisation_and_action_and_pages_backwards(pool: asyncpg.Pool) -> None:
    positions = await apply(pool, story())

    by_org = await feed.page(pool, OPERATOR, feed.Filters(organisation=OTHER), 100)
    by_type = await feed.page(pool, OPERATOR, feed.Filters(event_type="ReportReturned"), 100)
    by_action = await feed.page(pool, OPERATOR, feed.Filters(action=12), 100)
    by_topic = await feed.page(pool, OPERATOR, feed.Filters(topic="passerelle.notifications.v1"), 100)
    older = await feed.page(pool, OPERATOR, feed.Filters(before=positions[3]), 100)

    assert [e.event_type for e in by_org] == ["DevicesDelivered"]
    assert [e.event_type for e in by_type] == ["ReportReturned"]
    assert {e.event_type for e in by_action} == {"ActionRegistered", "ActionStatusChanged", "ReportReturned"}
    assert [e.event_type for e in by_topic] == ["MessageSent"]
    assert [e.event_type for e in older] == ["ReportReturned", "ActionStatusChanged", "ActionRegistered"]


async def test_a_stream_catches_up_with_the_events_after_its_page_s_position(pool: asyncpg.Pool) -> None:
    events = story()
    positions = await apply(pool, events)
    assert all(p is not None for p in positions)

    caught_up = await feed.after(pool, OPERATOR, positions[2] or 0, 10)

    assert [e.position for e in caught_up] == positions[3:]
    assert await feed.latest(pool) == positions[-1]
    assert await apply(pool, events) == [None] * 5, "an event applied again is not fed again"
