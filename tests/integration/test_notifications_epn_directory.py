"""The notifications service keeps a directory of the EPNs the funding service's register
announces, against the real broker and database: the register's events published to the funding
topic enter the directory (its whole history, once each), an activity-return reminder reaches the
partner of the EPN's operator, the Coordination reads which EPNs no partner reaches yet, and an
event about an EPN never registered is dead-lettered by the directory's own consumer while the
mailer goes on."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from passerelle_contracts.funding_v1 import TOPIC, ActivityReturnReminder

from services.notifications.settings import NotificationsSettings
from tests.conftest import CreateDatabase
from tests.epn_register import EPN, dead_lettered, details_changed, label_status_changed, record, registered
from tests.integration.conftest import running_service
from tests.support import eventually, produce

pytestmark = pytest.mark.infra

COORDINATION = "coordination-inclusion-numerique"
COMMUNE = {"name": "Commune d'Ixelles", "email": "epn@ixelles.example", "language": "fr"}


@pytest.fixture
async def notifications(create_database: CreateDatabase, kafka_bootstrap: str, topic_prefix: str) -> AsyncIterator[Any]:
    """The notifications service in this process (no SMTP server: e-mails stay queued), retrying
    a failing event quickly before its dead letter."""
    from services.notifications.app import create_app

    settings = NotificationsSettings(
        database_url=await create_database("notifications_epns"),
        kafka_bootstrap=kafka_bootstrap,
        topic_prefix=f"{topic_prefix}{uuid.uuid4().hex[:6]}.",
        http_port=0,
        consumer_backoff_initial_s=0.01,
        consumer_backoff_max_s=0.05,
    )
    async with running_service(create_app, settings, "http://notifications") as service:
        yield service


async def test_a_return_reminder_reaches_the_operator_the_register_names_and_the_coordination_sees_who_is_reached(
    notifications: Any, kafka_bootstrap: str
) -> None:
    topic = notifications.runtime.topic(TOPIC)
    pool = notifications.runtime.pool
    coordination = await notifications.key(COORDINATION, "coordination")
    put = await notifications.client.put("/partners/commune-ixelles", json=COMMUNE, headers=coordination)
    assert put.status_code == 200, put.text
    subscribed = await notifications.client.put(
        "/partners/commune-ixelles/subscriptions",
        json={"event_types": ["ActivityReturnReminder"]},
        headers=coordination,
    )
    assert subscribed.status_code == 200, subscribed.text

    long_ago = datetime.now(UTC) - timedelta(days=400)  # before the service first started: still learned
    first = record(registered(), occurred_at=long_ago)
    labelled = label_status_changed(
        status="labelled", previous_status="candidate", decided_on="2025-04-01", labelled_epns=1, register_version=1
    )
    forest = registered("epn-forest", epn_name="EPN de Forest", operator="asbl-forest", commune="Forest")
    await produce(kafka_bootstrap, topic, [first, first, record(labelled, long_ago), record(forest, long_ago)])

    async def directory() -> list[dict[str, Any]]:
        listed = (await notifications.client.get("/epns", headers=coordination)).json()
        labels = {e["epn"]: e["label_status"] for e in listed}
        return listed if labels == {EPN: "labelled", "epn-forest": "candidate"} else []

    ixelles, forest_entry = sorted(
        await eventually(directory, what="both EPNs in the directory"), key=lambda e: e["epn"] != EPN
    )
    assert ixelles == {
        "epn": EPN,
        "name": "EPN d'Ixelles",
        "operator": "commune-ixelles",
        "commune": "Ixelles",
        "label_status": "labelled",
        "contacts": ["commune-ixelles"],
        "reminded": ["commune-ixelles"],
    }
    assert (forest_entry["contacts"], forest_entry["reminded"]) == ([], [])
    missing = (await notifications.client.get("/epns", params={"without_contact": "true"}, headers=coordination)).json()
    assert [e["epn"] for e in missing] == ["epn-forest"]
    applied = await pool.fetchval("SELECT count(*) FROM inbox WHERE consumer = 'epn-directory'")
    assert applied == 3, "the registration delivered twice, once; the decision and the other EPN once each"
    assert await pool.fetchval("SELECT count(*) FROM messages") == 0, "the directory e-mails nobody"

    late = ActivityReturnReminder.model_validate(
        {"epn": EPN, "year": 2026, "quarter": 1, "due_on": "2026-04-30", "stage": "overdue"}
    )
    await produce(kafka_bootstrap, topic, [record(late)])

    async def told() -> list[str]:
        rows = await pool.fetch(
            "SELECT partner_code FROM messages WHERE event_type = 'ActivityReturnReminder' AND channel = 'email'"
        )
        return sorted(r["partner_code"] for r in rows)

    assert await eventually(told, what="the reminder queued") == ["commune-ixelles", COORDINATION]
    email = await pool.fetchval("SELECT address FROM messages WHERE partner_code = 'commune-ixelles'")
    assert email == "epn@ixelles.example"


async def test_a_change_about_an_epn_never_registered_is_dead_lettered_by_the_directory_alone(
    notifications: Any, kafka_bootstrap: str
) -> None:
    topic = notifications.runtime.topic(TOPIC)
    pool = notifications.runtime.pool
    change = record(details_changed("epn-nowhere", operator="b", was={"operator": "a"}))
    await produce(kafka_bootstrap, topic, [change, record(registered())])
    await eventually(
        lambda: pool.fetchval("SELECT count(*) FROM epns WHERE code = $1", EPN),
        what="the next EPN: the partition moved on",
    )
    headers = await dead_lettered(kafka_bootstrap, topic, change[1], what="the change dead-lettered")
    assert (headers["x-dlq-reason"], headers["x-dlq-consumer"]) == ("handler-failed", "epn-directory")
    assert "EPN epn-nowhere is not in the directory: its EpnRegistered was not applied" in headers["x-dlq-error"]
    consumers = await pool.fetch("SELECT DISTINCT consumer FROM dead_letters")
    assert [r["consumer"] for r in consumers] == ["epn-directory"], "the mailer ignores the register's events"


async def test_only_the_coordination_reads_the_directory(notifications: Any) -> None:
    partner = await notifications.key("commune-ixelles", "partner")
    assert (await notifications.client.get("/epns", headers=partner)).status_code == 403
    assert (await notifications.client.get("/epns")).status_code == 401
