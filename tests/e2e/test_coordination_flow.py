"""The coordination flow end to end, with the four services running as processes:
a device delivery recorded in equipment moves action 46's indicator in actions, and the
Working Group members subscribed to it receive an e-mail in their language (real SMTP)."""

from __future__ import annotations

import asyncio

import pytest

from tests.e2e.conftest import Inbox, call, fetch
from tests.support import ServiceProcess, eventually

pytestmark = pytest.mark.infra


async def test_a_delivery_reaches_the_indicator_of_action_46_and_the_working_group_by_e_mail(
    system: dict[str, ServiceProcess], smtp: tuple[Inbox, int]
) -> None:
    inbox, _ = smtp
    equipment, actions, notifications = system["equipment"], system["actions"], system["notifications"]
    for process in system.values():
        assert call(process.url + "/ready")[1]["status"] == "ready"

    token = equipment.cli("create-api-key", "--organisation", "caban", "--role", "refurbisher")
    body = {
        "recipient": "asbl-devoirs-exemple",  # a pupils association of the seed (recipients are registered)
        "recipient_kind": "pupils-association",
        "devices": {"laptop": 20, "tablet": 5},
        "public": "young-people",
        "beneficiaries": 25,
        "commune": "Anderlecht",
        "delivered_on": "2026-11-20",
    }
    once = {"Idempotency-Key": "delivery-2026-11-20-anderlecht"}
    status, delivery = call(equipment.url + "/deliveries", body, token, once)
    assert status == 201, delivery
    status, again = call(equipment.url + "/deliveries", body, token, once)
    assert (status, again["delivery_id"]) == (200, delivery["delivery_id"]), "a retried request records nothing new"

    def indicator() -> float:
        detail = call(actions.url + "/actions/46")[1]
        return next(i["current_value"] for i in detail["indicators"] if i["code"] == "a46-devices-pupils")

    assert await eventually(lambda: indicator() == 25, what="action 46's indicator at 25")

    coordination = notifications.cli(
        "keys", "create", "--organisation", "coordination-inclusion-numerique", "--role", "coordination"
    )
    partners = {p["code"]: p for p in call(notifications.url + "/partners", token=coordination)[1]}
    subscribed = [p for p in partners.values() if p["working_group"] and "IndicatorMeasured" in p["subscriptions"]]
    assert subscribed, "the seed subscribes the Working Group to indicator changes"
    await eventually(lambda: len(inbox.messages) >= len(subscribed), timeout=30, what="an e-mail per subscriber")

    french = inbox.to(partners["easy-brussels"]["email"])
    dutch = inbox.to(partners["actiris"]["email"])
    assert partners["easy-brussels"]["language"] == "fr" and partners["actiris"]["language"] == "nl"
    assert len(french) == 1 and len(dutch) == 1
    assert french[0]["Subject"].startswith("[Passerelle] Action 46 :")
    assert "est passé de 0 à 25 appareils." in french[0].get_content()
    assert "is gewijzigd van 0 naar 25 toestellen." in dutch[0].get_content()
    assert french[0]["X-Passerelle-Correlation-Id"] == dutch[0]["X-Passerelle-Correlation-Id"]
    not_subscribed = [p for p in partners.values() if "IndicatorMeasured" not in p["subscriptions"]]
    assert all(not inbox.to(p["email"]) for p in not_subscribed)

    log = call(notifications.url + "/deliveries?status=sent", token=coordination)[1]
    assert len([d for d in log if d["event_type"] == "IndicatorMeasured"]) == len(subscribed)

    await asyncio.sleep(1)
    assert len(inbox.messages) == len(subscribed), "the retried request told nobody twice"
    assert indicator() == 25

    metrics = fetch(notifications.url + "/metrics").decode()
    sent = next(line for line in metrics.splitlines() if line.startswith('passerelle_emails{status="sent"}'))
    assert float(sent.rsplit(" ", 1)[1]) >= len(subscribed), "the e-mails sent are counted"
