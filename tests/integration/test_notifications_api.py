"""The notifications service's HTTP API, in process on PostgreSQL: partners manage their own
contacts with their own key and nobody else's, a webhook's secret is shown once and rotated, the
one-click unsubscribe needs no login, a bounce reported later counts, a dead letter is sent again,
a contact is erased on request, and the feed is read and marked."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from services.notifications import bounces, links
from services.notifications.domain import NewMessage
from tests.unit.notifications.test_bounces import dsn, failed

pytestmark = pytest.mark.infra

COORDINATION = "coordination-inclusion-numerique"
PERSON = {"name": "Agent du CPAS", "email": "agent@cpas.example", "language": "nl"}


async def setup(notifications: Any) -> tuple[dict[str, str], dict[str, str]]:
    """The Coordination's key and CPAS's own (a partner of the register)."""
    coordination = await notifications.key(COORDINATION, "coordination")
    body = {"name": "CPAS d'Ixelles", "email": "info@cpas.example", "language": "fr"}
    assert (
        await notifications.client.put("/partners/cpas-ixelles", json=body, headers=coordination)
    ).status_code == 200
    return coordination, await notifications.key("cpas-ixelles", "partner")


async def test_a_partner_manages_its_own_contacts_and_cannot_see_another_partners(notifications: Any) -> None:
    coordination, cpas = await setup(notifications)
    made = await notifications.client.post("/partners/cpas-ixelles/contacts", json=PERSON, headers=cpas)
    assert made.status_code == 201, made.text
    contact = made.json()
    assert (contact["partner"], contact["kind"], contact["channels"]) == ("cpas-ixelles", "person", ["email", "feed"])

    follows = {"subscriptions": [{"event_type": "ActivityReturnReminder", "filters": {"commune": ["Ixelles"]}}]}
    answer = await notifications.client.put(f"/contacts/{contact['id']}/subscriptions", json=follows, headers=cpas)
    assert answer.json() == [{"event_type": "ActivityReturnReminder", "filters": {"commune": ["Ixelles"]}}]
    weekly = {"preferences": [{"topic": "*", "channel": "email", "frequency": "weekly"}]}
    assert (
        await notifications.client.put(f"/contacts/{contact['id']}/preferences", json=weekly, headers=cpas)
    ).status_code == 200

    other = await notifications.key("caban", "partner")
    assert (await notifications.client.get(f"/contacts/{contact['id']}", headers=other)).status_code == 404
    assert (await notifications.client.get("/partners/cpas-ixelles/contacts", headers=other)).status_code == 404
    stolen = await notifications.client.post("/partners/cpas-ixelles/contacts", json=PERSON, headers=other)
    assert stolen.status_code == 404
    listed = await notifications.client.get("/partners/cpas-ixelles/contacts", headers=coordination)
    assert [c["kind"] for c in listed.json()] == ["mailbox", "person"]
    reader = await notifications.key("cpas-ixelles", "reader")
    assert (await notifications.client.delete(f"/contacts/{contact['id']}", headers=reader)).status_code == 403


async def test_an_address_is_one_bare_address_not_a_name_or_a_list(notifications: Any) -> None:
    """aiosmtplib would send "Jane <jane@x.be>" to jane@x.be and a list to its first address: such
    an address is refused where it is given, not later in the dispatcher."""
    coordination, cpas = await setup(notifications)
    for email in ("<agent@cpas.example>", "Agent <agent@cpas.example>", "a@cpas.example,b@cpas.example"):
        answer = await notifications.client.post(
            "/partners/cpas-ixelles/contacts", json={**PERSON, "email": email}, headers=cpas
        )
        assert answer.status_code == 422, (email, answer.text)
    body = {"name": "CPAS", "email": '"agent"@cpas.example', "language": "fr"}
    assert (
        await notifications.client.put("/partners/cpas-ixelles", json=body, headers=coordination)
    ).status_code == 422


async def test_quiet_hours_are_a_time_of_day_without_offset_and_come_in_pairs(notifications: Any) -> None:
    _, cpas = await setup(notifications)
    for quiet in (
        {"quiet_from": "19:00"},
        {"quiet_from": "19:00Z", "quiet_until": "08:00"},
        {"quiet_from": "25:00", "quiet_until": "08:00"},
    ):
        answer = await notifications.client.post(
            "/partners/cpas-ixelles/contacts", json={**PERSON, **quiet}, headers=cpas
        )
        assert answer.status_code == 422, (quiet, answer.text)
    answer = await notifications.client.post(
        "/partners/cpas-ixelles/contacts", json={**PERSON, "quiet_from": "19:00", "quiet_until": "08:00"}, headers=cpas
    )
    assert (answer.json()["quiet_from"], answer.json()["quiet_until"]) == ("19:00:00", "08:00:00")


async def test_a_webhooks_secret_is_shown_once_and_a_rotation_keeps_the_old_one_signing_a_while(
    notifications: Any,
) -> None:
    _, cpas = await setup(notifications)
    hook = {"kind": "webhook", "webhook_url": "https://systems.cpas.example/passerelle", "language": "fr"}
    made = (await notifications.client.post("/partners/cpas-ixelles/contacts", json=hook, headers=cpas)).json()
    assert made["webhook_secret"].startswith("whsec_") and made["channels"] == ["webhook"]
    assert "webhook_secret" not in (await notifications.client.get(f"/contacts/{made['id']}", headers=cpas)).json()

    rotated = (await notifications.client.post(f"/contacts/{made['id']}/webhook-secret", headers=cpas)).json()
    assert rotated["webhook_secret"] != made["webhook_secret"]
    repo = notifications.app.state.runtime.repository()
    assert await repo.webhook_secrets(made["id"]) == [rotated["webhook_secret"], made["webhook_secret"]]

    plain = {**hook, "webhook_url": "http://systems.cpas.example/passerelle"}
    refused = await notifications.client.post("/partners/cpas-ixelles/contacts", json=plain, headers=cpas)
    assert refused.status_code == 422 and "https" in refused.text


async def test_the_one_click_unsubscribe_needs_no_login_and_a_get_changes_nothing(notifications: Any) -> None:
    _, cpas = await setup(notifications)
    contact = (await notifications.client.post("/partners/cpas-ixelles/contacts", json=PERSON, headers=cpas)).json()
    repo = notifications.app.state.runtime.repository()
    token = links.token(await repo.service_key(links.KEY_NAME), contact["id"], "ActivityReturnReminder")

    page = await notifications.client.get(f"/unsubscribe/{token}")
    assert page.status_code == 200 and 'method="post"' in page.text and 'lang="nl"' in page.text
    assert await repo.preferences_of(contact["id"]) == {}, "a mail scanner following the link unsubscribes nobody"

    done = await notifications.client.post(f"/unsubscribe/{token}", content=b"List-Unsubscribe=One-Click")
    assert done.status_code == 200
    assert await repo.preferences_of(contact["id"]) == {("ActivityReturnReminder", "email"): "off"}
    forged = await notifications.client.post(
        f"/unsubscribe/{contact['id']}.ActivityReturnReminder.AAAAAAAAAAAAAAAAAAAAAAAA"
    )
    assert forged.status_code == 404 and "text/html" in forged.headers["content-type"]


async def message_to(notifications: Any, contact: int, address: str, status: str = "sent") -> int:
    """A message already sent to the contact, as the dispatcher leaves it; its number."""
    pool = notifications.app.state.runtime.pool
    repo = notifications.app.state.runtime.repository()
    await repo.add_messages(
        [
            NewMessage(
                contact_id=contact, partner_code="cpas-ixelles", channel="email", topic_key=str(uuid.uuid4()),
                event_id=uuid.uuid4(), event_type="ActivityReturnReminder", correlation_id=uuid.uuid4(),
                address=address, language="nl", subject="[Passerelle] Herinnering", body="Goeddag,",
            )
        ]
    )  # fmt: skip
    row: int = await pool.fetchval("SELECT max(id) FROM messages")
    await pool.execute("UPDATE messages SET status = $2 WHERE id = $1", row, status)
    return row


async def test_a_bounce_reported_later_counts_against_the_contact_once(notifications: Any) -> None:
    coordination, cpas = await setup(notifications)
    contact = (await notifications.client.post("/partners/cpas-ixelles/contacts", json=PERSON, headers=cpas)).json()
    row = await message_to(notifications, contact["id"], PERSON["email"])
    repo = notifications.app.state.runtime.repository()
    ours = bounces.bounce_address("bounces", "passerelle.local", row, await repo.service_key("bounces"))
    report = dsn(failed("5.1.1", PERSON["email"]), to=ours)
    headers = {**coordination, "Content-Type": "message/rfc822"}

    answer = await notifications.client.post("/bounces", content=report, headers=headers)
    assert answer.json() == {"hard": 1, "soft": 0, "not_ours": 0, "already": 0}
    again = await notifications.client.post("/bounces", content=report, headers=headers)
    assert again.json()["already"] == 1, "a DSN reported twice counts once"
    assert (await repo.contact(contact["id"])).hard_bounces == 1
    empty = await notifications.client.post("/bounces", content=b"", headers=headers)
    assert empty.status_code == 422
    assert (
        await notifications.client.post("/bounces", content=report, headers={**cpas, "Content-Type": "text/plain"})
    ).status_code == 403


async def test_a_dead_letter_is_sent_again_on_request_and_a_sent_message_is_not(notifications: Any) -> None:
    coordination, cpas = await setup(notifications)
    contact = (await notifications.client.post("/partners/cpas-ixelles/contacts", json=PERSON, headers=cpas)).json()
    failed_row = await message_to(notifications, contact["id"], PERSON["email"], "failed")
    sent_row = await message_to(notifications, contact["id"], PERSON["email"], "sent")

    assert (await notifications.client.post(f"/deliveries/{failed_row}/retry", headers=coordination)).status_code == 200
    assert (await notifications.client.post(f"/deliveries/{sent_row}/retry", headers=coordination)).status_code == 409
    own = (await notifications.client.get("/deliveries", headers=cpas)).json()
    assert {d["id"]: d["status"] for d in own} == {failed_row: "pending", sent_row: "sent"}
    other = await notifications.key("caban", "partner")
    assert (await notifications.client.get("/deliveries", headers=other)).json() == [], "a partner reads its own log"


async def test_an_erased_contact_is_gone_and_its_log_keeps_no_address(notifications: Any) -> None:
    coordination, cpas = await setup(notifications)
    contact = (await notifications.client.post("/partners/cpas-ixelles/contacts", json=PERSON, headers=cpas)).json()
    await message_to(notifications, contact["id"], PERSON["email"])

    erased = await notifications.client.delete(f"/contacts/{contact['id']}", headers=cpas)
    assert erased.json() == {"erased": contact["id"], "messages_anonymised": 1}
    assert (await notifications.client.get(f"/contacts/{contact['id']}", headers=coordination)).status_code == 404
    [line] = (await notifications.client.get("/deliveries?partner=cpas-ixelles", headers=coordination)).json()
    assert (line["contact_id"], line["address"]) == (None, None)


async def test_the_feed_is_read_newest_first_and_marked_read(notifications: Any) -> None:
    _, cpas = await setup(notifications)
    contact = (await notifications.client.post("/partners/cpas-ixelles/contacts", json=PERSON, headers=cpas)).json()
    repo = notifications.app.state.runtime.repository()
    for n in range(3):
        await repo.add_messages(
            [
                NewMessage(
                    contact_id=contact["id"], partner_code="cpas-ixelles", channel="feed", topic_key=f"t{n}",
                    event_id=None, event_type="ActionStatusChanged", correlation_id=uuid.uuid4(), address=None,
                    language="nl", subject=f"Item {n}", body=f"Item {n}",
                )
            ]
        )  # fmt: skip
    feed = (await notifications.client.get(f"/contacts/{contact['id']}/feed", headers=cpas)).json()
    assert [i["subject"] for i in feed] == ["Item 2", "Item 1", "Item 0"]
    marked = await notifications.client.post(
        f"/contacts/{contact['id']}/feed/read", json={"ids": [feed[0]["id"]]}, headers=cpas
    )
    assert marked.json() == {"marked": 1}
    unread = (await notifications.client.get(f"/contacts/{contact['id']}/feed?unread=true", headers=cpas)).json()
    assert [i["subject"] for i in unread] == ["Item 1", "Item 0"]
